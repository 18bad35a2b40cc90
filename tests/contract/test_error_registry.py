"""contracts/error-codes.json and csvprof.errors are the same registry."""

from __future__ import annotations

import re

from csvprof import errors
from tests.support.contracts import ROOT, assert_valid, error_registry, openapi

REGISTRY_PATH = ROOT / "contracts" / "error-codes.json"


def test_registry_file_is_valid() -> None:
    import json

    assert_valid("error-codes", json.loads(REGISTRY_PATH.read_text()))


def test_every_code_class_is_registered_with_the_same_status_and_component() -> None:
    documented = error_registry()
    in_code = errors.registry()
    assert set(in_code) == set(documented)
    for code, cls in in_code.items():
        entry = documented[code]
        assert (cls.http_status, cls.component) == (entry["http_status"], entry["component"]), code


def test_api_codes_are_client_errors_and_worker_codes_never_500_except_internal() -> None:
    for code, entry in error_registry().items():
        if entry["component"] == "api":
            # GATEWAY_TIMEOUT: the gateway's own 504, never the function's answer.
            assert 400 <= entry["http_status"] < 500 or code == "GATEWAY_TIMEOUT", code
        elif entry["http_status"] is not None:
            assert entry["http_status"] == 413 or code == "INTERNAL_ERROR", code


def test_every_status_in_the_openapi_has_a_code_that_answers_it() -> None:
    statuses = {e["http_status"] for e in error_registry().values() if e["http_status"]}
    for path, ops in openapi()["paths"].items():
        for method, op in ops.items():
            for status in op["responses"]:
                if status.startswith(("4", "5")):
                    assert int(status) in statuses, f"{method.upper()} {path} documents {status}"


def test_docs_mention_every_code() -> None:
    docs = (ROOT / "docs" / "data-contracts.md").read_text() + (ROOT / "docs" / "runtime.md").read_text()
    mentioned = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})`", docs))
    assert set(error_registry()) <= mentioned, set(error_registry()) - mentioned
