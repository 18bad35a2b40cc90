"""The layout docs/architecture.md promises, checked on the source: layers, no cycles, thin handlers."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "csvprof"
# A handler function reads as wiring: about 25 lines, 30 at most.
MAX_HANDLER_FUNCTION_LINES = 30


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def imports(tree: ast.Module, *, runtime_only: bool) -> set[str]:
    """Modules a module imports; with runtime_only, not those under `if TYPE_CHECKING:`."""
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def internal_graph() -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports(tree, runtime_only=True) & known for name, tree in modules().items()}


def test_there_is_no_import_cycle_in_src() -> None:
    graph = internal_graph()
    # A package's __init__ re-exporting its own modules is not a cycle between modules.
    for name, deps in graph.items():
        deps.discard(name.rsplit(".", 1)[0])
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


DOMAIN = sorted(name for name in modules() if name.startswith("csvprof.domain"))


@pytest.mark.parametrize("name", DOMAIN)
def test_the_domain_imports_no_engine_no_sdk_and_no_environment(name: str) -> None:
    tree = modules()[name]
    imported = imports(tree, runtime_only=False)
    assert not [
        m for m in imported if m.startswith(("csvprof.profiler", "csvprof.adapters", "csvprof.handlers"))
    ]
    assert not [m for m in imported if m.split(".")[0] in ("boto3", "botocore", "pyarrow", "numpy")]
    # Configuration arrives as arguments (config.Settings is read once, by a handler).
    assert "os" not in imported
    assert "environ" not in ast.unparse(tree)


def test_contracts_import_only_contracts_errors_and_limits() -> None:
    for name, tree in modules().items():
        if name.startswith("csvprof.contracts"):
            internal = {m for m in imports(tree, runtime_only=False) if m.startswith("csvprof.")}
            assert all(
                m.startswith(("csvprof.contracts", "csvprof.errors", "csvprof.limits")) for m in internal
            ), name


HANDLERS = sorted(name for name in modules() if name.startswith("csvprof.handlers."))


@pytest.mark.parametrize("name", HANDLERS)
def test_handler_functions_are_wiring(name: str) -> None:
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"  # type: ignore[operator]
        for node in ast.walk(modules()[name])
        if isinstance(node, ast.FunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_HANDLER_FUNCTION_LINES  # type: ignore[operator]
    ]
    assert long == []


def test_only_the_keys_contract_formats_s3_keys() -> None:
    """No f-string or literal outside keys.py builds a raw/, meta/, profiles/ or idempotency/ key
    (docstrings aside)."""
    found = []
    for name, tree in modules().items():
        if name == "csvprof.contracts.keys":
            continue
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            elif (
                isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            ):
                text = node.value
            else:
                continue
            if any(
                text.startswith(prefix) or f" {prefix}" in text
                for prefix in ("raw/", "meta/", "profiles/", "idempotency/")
            ):
                found.append((name, text))
    assert found == []


ARCHITECTURE_DOC = SRC.parent / "docs" / "architecture.md"


def test_the_architecture_doc_names_every_module_and_only_real_paths() -> None:
    doc = ARCHITECTURE_DOC.read_text()
    named = set(re.findall(r"`([\w./{}-]+)`", doc))
    root = SRC.parent
    paths = {n for n in named if "/" in n and not n.startswith(("raw/", "meta/", "profiles/", "http"))}
    missing = sorted(
        p for p in paths if "{" not in p and not (root / p).exists() and not (PACKAGE / p).exists()
    )
    assert missing == []
    modules_named = {Path(n).name for n in named if n.endswith(".py")}
    existing = {p.name for p in (*PACKAGE.rglob("*.py"), *(root / "tests").rglob("*.py"))}
    assert sorted(modules_named - existing) == []
    unnamed = sorted(
        str(p.relative_to(SRC))
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" and p.name != "__main__.py" and p.name not in modules_named
    )
    assert unnamed == []


def test_the_diff_is_pure_over_contracts() -> None:
    """`csvprof.diff` compares two typed profiles: no engine, no SDK, no I/O layer."""
    for name, tree in modules().items():
        if name.startswith("csvprof.diff"):
            internal = {m for m in imports(tree, runtime_only=False) if m.startswith("csvprof.")}
            assert all(m.startswith(("csvprof.diff", "csvprof.contracts")) for m in internal), name
            external = {m.split(".")[0] for m in imports(tree, runtime_only=False)}
            assert not external & {"boto3", "botocore", "pyarrow", "numpy", "os", "urllib3"}, name
