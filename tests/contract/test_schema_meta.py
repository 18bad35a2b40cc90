"""Schemas document themselves: $schema, $id, description everywhere, additionalProperties on purpose."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.contracts import CONTRACTS, schema_paths, validator

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def object_schemas(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema that declares an object with properties."""
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            if key in ("if", "then", "else"):  # conditionals narrow, they declare nothing new
                continue
            yield from object_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from object_schemas(value, f"{where}/{i}")


@pytest.mark.parametrize("path", schema_paths(), ids=lambda p: p.name)
def test_schema_documents_itself(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$schema"] == DRAFT
    assert schema["$id"].endswith("/" + path.name), "$id must end with the file name"
    assert schema.get("description"), "top-level description missing"
    validator(path.name.removesuffix(".schema.json")).check_schema(schema)
    for where, obj in object_schemas(schema):
        assert "additionalProperties" in obj, f"{where}: set additionalProperties on purpose"
        for prop, sub in obj["properties"].items():
            assert isinstance(sub, dict), f"{where}/{prop}: not a schema"
            assert sub.get("description"), f"{where}/{prop}: no description"


def test_ids_are_unique() -> None:
    ids = [json.loads(p.read_text())["$id"] for p in schema_paths()]
    assert len(ids) == len(set(ids))


def test_contracts_folder_holds_only_known_kinds() -> None:
    # Schema files nobody reads are a smell; everything here is a schema, the registry or the OpenAPI.
    allowed = {"error-codes.json", "openapi.yaml"}
    for path in CONTRACTS.iterdir():
        if path.is_dir():
            assert path.name == "examples"
            continue
        assert path.name.endswith(".schema.json") or path.name in allowed, path.name
