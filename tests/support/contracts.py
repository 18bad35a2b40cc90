"""Load the JSON Schemas in contracts/ and validate instances against them.

Cross-file `$ref`s resolve through a referencing.Registry keyed by each schema's
`$id`, exactly as a consumer of the published schemas would resolve them.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
EXAMPLES = CONTRACTS / "examples"


def schema_paths() -> list[Path]:
    return sorted(CONTRACTS.glob("*.schema.json"))


def schema_name(path: Path) -> str:
    return path.name.removesuffix(".schema.json")


@cache
def registry() -> Registry:  # type: ignore[type-arg]
    resources = []
    for path in schema_paths():
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((CONTRACTS / f"{name}.schema.json").read_text())
    return Draft202012Validator(
        schema, registry=registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def errors(name: str, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(instance)
    ]


def assert_valid(name: str, instance: Any) -> None:
    found = errors(name, instance)
    assert not found, f"{name} contract violated:\n" + "\n".join(found)


def error_registry() -> dict[str, dict[str, Any]]:
    body = json.loads((CONTRACTS / "error-codes.json").read_text())
    return {entry["code"]: entry for entry in body["codes"]}


def openapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CONTRACTS / "openapi.yaml").read_text())
    return loaded
