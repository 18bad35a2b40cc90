"""Producer-side contracts: validate what the handlers really write and send, not copies.

The API and worker handlers run against an embedded S3/SQS/EventBridge (moto server);
the test reads back the S3 objects, the SQS bodies, the EventBridge details and the
HTTP answers and validates each against its schema in contracts/.
"""

from __future__ import annotations

from typing import Any

import pytest

from csvprof.contracts import keys
from tests.conftest import EXAMPLES
from tests.support.contracts import assert_valid, error_registry
from tests.support.pipeline import Pipeline, drive


def test_ready_path_emits_valid_meta_profile_event_and_answers(pipeline: Pipeline) -> None:
    seen = drive(pipeline, (EXAMPLES / "orders.csv").read_bytes())
    dataset_id = seen["dataset_id"]
    assert seen["meta"]["status"] == "READY"

    stored_profile = pipeline.s3_json(keys.profile_key(dataset_id))
    assert_valid("profile", stored_profile)

    (event,) = seen["events"]
    assert (event["source"], event["detail-type"]) == ("csvprof", "Dataset Profiled")
    assert_valid("event-dataset-profiled", event["detail"])

    status, meta_answer = pipeline.call("GET", f"/datasets/{dataset_id}")
    assert status == 200
    assert_valid("meta", meta_answer)
    status, profile_answer = pipeline.call("GET", f"/datasets/{dataset_id}/profile")
    assert (status, profile_answer) == (200, stored_profile)
    status, page = pipeline.call("GET", "/datasets", query={"limit": "100"})
    assert status == 200
    assert_valid("api-dataset-list", page)


def test_failed_path_emits_valid_meta_and_failure_event(pipeline: Pipeline) -> None:
    seen = drive(pipeline, b'a,b\n1,"never closed\n')
    assert seen["meta"]["status"] == "FAILED"
    assert seen["meta"]["error"]["code"] in error_registry()
    (event,) = seen["events"]
    assert event["detail-type"] == "Dataset Profiling Failed"
    assert_valid("event-dataset-profiling-failed", event["detail"])


def test_presigned_upload_answers_are_valid(pipeline: Pipeline) -> None:
    status, started = pipeline.call("POST", "/uploads", query={"name": "big.csv"})
    assert status == 201
    assert_valid("api-upload-started", started)


@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("GET", "/datasets/BAD", {}),
        ("GET", "/datasets/00000000-0000-4000-8000-000000000000", {}),
        ("POST", "/datasets", {"headers": {"content-type": "image/png"}}),
        ("PATCH", "/datasets", {}),
    ],
)
def test_error_answers_are_valid_and_match_the_registry(
    pipeline: Pipeline, method: str, path: str, kw: Any
) -> None:
    status, body = pipeline.call(method, path, b"x" if method == "POST" else b"", **kw)
    assert_valid("api-error", body)
    assert status == error_registry()[body["code"]]["http_status"]
