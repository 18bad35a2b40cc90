"""Client mistakes get 4xx with a registry code and the registry's status, never 500."""

from __future__ import annotations

import pytest

from csvprof.limits import MAX_DIRECT_UPLOAD_BYTES
from tests.support.contracts import assert_valid, error_registry
from tests.support.http import Answer, HttpApi

MISSING = "00000000-0000-4000-8000-000000000000"


def assert_error(answer: Answer, code: str) -> None:
    body = answer.json()
    assert_valid("api-error", body)
    assert body["code"] == code, body
    assert answer.status == error_registry()[code]["http_status"]


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/datasets/not-a-uuid", "INVALID_DATASET_ID"),
        ("GET", "/datasets/3F2B8C1E-9A4D-4E7B-8C21-5D6F7A8B9C0D", "INVALID_DATASET_ID"),
        ("GET", "/datasets/..%2Fmeta%2Fx/profile", "INVALID_DATASET_ID"),
        ("GET", f"/datasets/{MISSING}", "DATASET_NOT_FOUND"),
        ("GET", f"/datasets/{MISSING}/profile", "DATASET_NOT_FOUND"),
        ("POST", f"/uploads/{MISSING}/complete", "UPLOAD_NOT_FOUND"),
        ("POST", "/uploads/nope/complete", "INVALID_DATASET_ID"),
        ("GET", "/datasets?limit=0", "INVALID_QUERY_PARAMETER"),
        ("GET", "/datasets?limit=abc", "INVALID_QUERY_PARAMETER"),
        ("GET", "/datasets?next_token=forged", "INVALID_QUERY_PARAMETER"),
        # Query parameters the route does not declare are refused, not ignored.
        ("GET", "/datasets?limt=5", "INVALID_QUERY_PARAMETER"),
        ("GET", f"/datasets/{MISSING}?name=x", "INVALID_QUERY_PARAMETER"),
        ("POST", "/uploads?name=x&nmae=y", "INVALID_QUERY_PARAMETER"),
    ],
)
def test_bad_paths_and_queries(http: HttpApi, method: str, path: str, code: str) -> None:
    assert_error(http.call(method, path), code)


@pytest.mark.parametrize(
    ("method", "path", "code", "allow"),
    [
        ("DELETE", f"/datasets/{MISSING}", "METHOD_NOT_ALLOWED", "GET"),
        ("PUT", "/datasets", "METHOD_NOT_ALLOWED", "GET, POST"),
        ("GET", "/nowhere", "ROUTE_NOT_FOUND", None),
    ],
)
def test_unknown_routes_get_the_gateways_own_api_error(
    http: HttpApi, method: str, path: str, code: str, allow: str | None
) -> None:
    # Explicit routes, as deployed: the gateway answers before the function is invoked.
    answer = http.call(method, path)
    assert_error(answer, code)
    assert answer.headers.get("Allow") == allow


def test_wrong_content_type(http: HttpApi) -> None:
    assert_error(http.upload(b'{"a": 1}', content_type="application/json"), "UNSUPPORTED_MEDIA_TYPE")


def test_missing_content_type(http: HttpApi) -> None:
    assert_error(http.call("POST", "/datasets", b"a,b\n1,2\n"), "UNSUPPORTED_MEDIA_TYPE")


def test_empty_body(http: HttpApi) -> None:
    assert_error(http.upload(b""), "EMPTY_BODY")


def test_body_over_the_direct_upload_limit(http: HttpApi) -> None:
    assert_error(http.upload(b"x" * (MAX_DIRECT_UPLOAD_BYTES + 1)), "PAYLOAD_TOO_LARGE")


def test_name_too_long(http: HttpApi) -> None:
    assert_error(http.upload(b"a\n1\n", name="n" * 300), "INVALID_QUERY_PARAMETER")


def test_profile_of_a_failed_dataset_is_not_ready(http: HttpApi) -> None:
    dataset_id = http.upload(b"   \n  \n").json()["dataset_id"]
    assert http.wait_terminal(dataset_id)["status"] == "FAILED"
    assert_error(http.call("GET", f"/datasets/{dataset_id}/profile"), "PROFILE_NOT_READY")
