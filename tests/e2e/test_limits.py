"""Runtime limits for real: through S3, SQS, the worker and EventBridge on the embedded stack.

The deployed limits, with files just over them that are still cheap to upload; the scaled-down
ones, and the time and memory limits, are driven through the worker handler in
tests/unit/test_worker_limits.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from csvprof.limits import MAX_COLUMNS, MAX_FIELD_BYTES
from csvprof.local.stack import EmbeddedStack
from tests.e2e.test_failures import failure_event
from tests.support.contracts import assert_valid
from tests.support.http import HttpApi, wait_for


def too_many_columns() -> bytes:
    n = MAX_COLUMNS + 1
    return (",".join(f"c{i}" for i in range(n)) + "\n" + ",".join(["1"] * n) + "\n").encode()


def too_large_a_field() -> bytes:
    return b"id,note\n1,short\n2," + b"x" * (MAX_FIELD_BYTES + 1) + b"\n3,after\n"


@pytest.mark.parametrize(
    ("body", "code"),
    [(too_many_columns(), "TOO_MANY_COLUMNS"), (too_large_a_field(), "FIELD_TOO_LARGE")],
    ids=["columns", "field"],
)
def test_a_file_over_a_limit_ends_failed_with_one_event(
    http: HttpApi, stack: EmbeddedStack, body: bytes, code: str
) -> None:
    dataset_id = http.upload(body).json()["dataset_id"]
    meta = http.wait_terminal(dataset_id)
    assert_valid("meta", meta)
    assert (meta["status"], meta["error"]["code"]) == ("FAILED", code)
    assert meta["completed_at"] is not None
    assert "profile_key" not in meta or meta["profile_key"] is None
    answer = http.call("GET", f"/datasets/{dataset_id}/profile")
    assert (answer.status, answer.json()["code"]) == (409, "PROFILE_NOT_READY")

    seen: list[dict[str, Any]] = []
    event = wait_for(lambda: failure_event(stack, dataset_id, seen), 10, what="failure event")
    assert event["detail-type"] == "Dataset Profiling Failed"
    assert_valid("event-dataset-profiling-failed", event["detail"])
    assert event["detail"]["error"]["code"] == code
    seen.extend(stack.receive_events(wait_s=1))  # anything sent later would arrive by now
    assert len([e for e in seen if e["detail"]["dataset_id"] == dataset_id]) == 1
