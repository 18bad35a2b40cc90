"""One test per example file: contracts/examples/<name>/<case>.pass.json must validate,
<case>.fail.json must not. Adding a case means adding a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.contracts import CONTRACTS, EXAMPLES, errors


def example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*/*.json"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "example" in metafunc.fixturenames:
        files = example_files()
        metafunc.parametrize("example", files, ids=[f"{p.parent.name}/{p.name}" for p in files])


def test_example_matches_its_verdict(example: Path) -> None:
    name = example.parent.name
    assert (CONTRACTS / f"{name}.schema.json").exists(), f"{example} names no schema"
    found = errors(name, json.loads(example.read_text()))
    if example.name.endswith(".pass.json"):
        assert not found, found
    else:
        assert example.name.endswith(".fail.json"), "examples are <case>.pass.json or <case>.fail.json"
        assert found, f"{example.name} should be rejected by {name}.schema.json"


def test_every_schema_has_a_passing_and_a_failing_example() -> None:
    for schema in sorted(CONTRACTS.glob("*.schema.json")):
        name = schema.name.removesuffix(".schema.json")
        cases = [p.name for p in (EXAMPLES / name).glob("*.json")]
        assert any(c.endswith(".pass.json") for c in cases), f"{name}: no .pass.json example"
        assert any(c.endswith(".fail.json") for c in cases), f"{name}: no .fail.json example"
