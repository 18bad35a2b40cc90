"""SqsPoller's reading of a handler's batch response, as Lambda's event source mapping reads it.

The poller against a queue (moto) is in tests/e2e/test_local_poller_stack.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from csvprof.local.poller import InvalidBatchResponseError, failed_message_ids


@pytest.mark.parametrize(
    "result",
    [
        {"batchItemFailures": [{"itemIdentifier": "unknown"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "m-1"}]},
        "not an object",
    ],
    ids=["foreign-id", "empty-id", "null-id", "bad-key", "not-an-object"],
)
def test_invalid_batch_response_fails_the_whole_batch(result: Any) -> None:
    with pytest.raises(InvalidBatchResponseError):
        failed_message_ids(result, ["m-1", "m-2"])


@pytest.mark.parametrize(
    "result", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}], ids=str
)
def test_empty_batch_response_is_full_success(result: Any) -> None:
    assert failed_message_ids(result, ["m-1"]) == frozenset()


def test_listed_failures_are_the_failed_ids() -> None:
    result = {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert failed_message_ids(result, ["m-1", "m-2", "m-3"]) == frozenset({"m-2"})
