"""Bad input ends FAILED with its code and a failure event; poison ends in the DLQ; nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from csvprof.adapters.s3 import S3MetaRepository
from csvprof.adapters.sqs import SqsWorkQueue
from csvprof.contracts import keys
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta
from csvprof.contracts.timefmt import format_ts
from csvprof.handlers import api, worker
from csvprof.limits import SQS_MAX_RECEIVE_COUNT
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from tests.support.contracts import assert_valid, error_registry
from tests.support.http import HttpApi, wait_for


def failure_event(stack: EmbeddedStack, dataset_id: str, seen: list[dict[str, Any]]) -> dict[str, Any] | None:
    seen.extend(stack.receive_events(wait_s=1))
    mine = [e for e in seen if e["detail"]["dataset_id"] == dataset_id]
    return mine[0] if mine else None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\x00\x01\x02\xff\xfe\x00binary\x9c\x00" * 200, "ENCODING_ERROR"),
        (b'id,comment\n1,"this quote never closes\n2,ok\n', "CSV_PARSE_ERROR"),
        (b" \r\n\t\n", "EMPTY_FILE"),
    ],
    ids=["binary", "unterminated-quote", "whitespace-only"],
)
def test_malformed_csv_fails_with_its_code_and_event(
    http: HttpApi, stack: EmbeddedStack, body: bytes, code: str
) -> None:
    dataset_id = http.upload(body).json()["dataset_id"]
    meta = http.wait_terminal(dataset_id)
    assert_valid("meta", meta)
    assert meta["status"] == "FAILED"
    assert meta["error"]["code"] == code
    assert error_registry()[code]["component"] == "worker"
    assert meta["completed_at"] is not None

    seen: list[dict[str, Any]] = []
    event = wait_for(lambda: failure_event(stack, dataset_id, seen), 10, what="failure event")
    assert event["detail-type"] == "Dataset Profiling Failed"
    assert_valid("event-dataset-profiling-failed", event["detail"])
    assert event["detail"]["error"]["code"] == code


def test_message_for_a_missing_source_fails_source_missing(http: HttpApi, stack: EmbeddedStack) -> None:
    # Given a registered dataset whose raw object does not exist
    dataset_id = keys.new_dataset_id()
    now = datetime.now(UTC)
    S3MetaRepository(stack.s3(), stack.settings.bucket).create(
        Meta.new(dataset_id, name="gone.csv", route="blue", source_bytes=10, now=now)
    )
    # When its message arrives
    SqsWorkQueue(stack.sqs(), stack.work_queue_urls).send(
        "blue", DatasetMessage(dataset_id, "blue", format_ts(now))
    )
    # Then it ends FAILED SOURCE_MISSING
    meta = http.wait_terminal(dataset_id)
    assert (meta["status"], meta["error"]["code"]) == ("FAILED", "SOURCE_MISSING")


@pytest.fixture
def fast_retry_runtime() -> Iterator[tuple[EmbeddedStack, LocalRuntime]]:
    # A 1 s visibility timeout lets three receives happen within the test.
    with EmbeddedStack(visibility_timeout_s=1) as fast:
        handlers = (
            api.make_handler(fast.settings, fast.session),
            worker.make_handler(fast.settings, fast.session),
        )
        with LocalRuntime(fast, *handlers) as running:
            yield fast, running


def test_poison_message_reaches_the_dlq_after_three_receives(
    fast_retry_runtime: tuple[EmbeddedStack, LocalRuntime],
) -> None:
    fast, running = fast_retry_runtime
    sqs = fast.sqs()
    sqs.send_message(QueueUrl=fast.work_queue_urls["green"], MessageBody='{"not": "a csvprof message"}')

    def in_dlq() -> list[Any]:
        answer = sqs.receive_message(
            QueueUrl=fast.dlq_url, MessageSystemAttributeNames=["ApproximateReceiveCount"], WaitTimeSeconds=1
        )
        return answer.get("Messages", [])

    messages = wait_for(in_dlq, 30, what="poison message in the DLQ")
    assert messages[0]["Body"] == '{"not": "a csvprof message"}'
    stats = running.pollers["green"].stats
    assert stats.failed == SQS_MAX_RECEIVE_COUNT, stats
