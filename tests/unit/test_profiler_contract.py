"""profile.schema.json: self-documenting, and its example cases pass or fail as named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.contracts import CONTRACTS, validator

SCHEMA = validator("profile").schema
CASES = sorted((CONTRACTS / "examples" / "profile").glob("*.json"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=[c.name for c in CASES])


def test_example_case(case: Path) -> None:
    errors = list(validator("profile").iter_errors(json.loads(case.read_text())))
    if case.name.endswith(".pass.json"):
        assert errors == []
    else:
        assert case.name.endswith(".fail.json")
        assert errors, f"{case.name} should violate the schema"


def test_there_are_pass_and_fail_cases() -> None:
    names = [c.name for c in CASES]
    assert any(n.endswith(".pass.json") for n in names)
    assert sum(n.endswith(".fail.json") for n in names) >= 3


def _properties(node: Any, path: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found.append((f"{path}.{name}", sub))
        for key, sub in node.items():
            found.extend(_properties(sub, f"{path}/{key}"))
    return found


def test_schema_documents_itself() -> None:
    validator("profile").check_schema(SCHEMA)
    assert {"$schema", "$id", "description"} <= SCHEMA.keys()
    undocumented = [p for p, sub in _properties(SCHEMA, "") if "description" not in sub]
    assert undocumented == []
    objects = [p for p, sub in _properties(SCHEMA, "") if sub.get("type") == "object"]
    assert all("additionalProperties" in dict(_properties(SCHEMA, ""))[p] for p in objects)
