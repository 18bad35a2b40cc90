"""SqsPoller against the embedded moto stack: Lambda's SQS event, partial batch responses, redrive
to the DLQ. The batch-response parsing alone is unit-tested in tests/unit/test_local_poller.py."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from aws_lambda_powertools.utilities.data_classes import SQSEvent

from csvprof.limits import SQS_MAX_RECEIVE_COUNT
from csvprof.local.poller import SqsPoller
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from tests.support.events import load_event
from tests.support.http import HttpApi

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

T = TypeVar("T")
DEADLINE_S = 10


def wait_for(probe: Callable[[], T | None], timeout_s: float = DEADLINE_S, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        threading.Event().wait(0.05)  # a poll interval, not synchronisation


@pytest.fixture
def stack() -> Iterator[EmbeddedStack]:
    # Visibility timeout 1 s so a failed delivery comes back within the test.
    with EmbeddedStack(visibility_timeout_s=1) as embedded:
        yield embedded


@pytest.fixture
def sqs(stack: EmbeddedStack) -> SQSClient:
    return stack.sqs()


class Worker:
    """A real handler: records every record it sees, fails the ones `should_fail` picks."""

    def __init__(self, should_fail: Callable[[dict[str, Any]], bool] = lambda record: False) -> None:
        self.should_fail = should_fail
        self.records: list[dict[str, Any]] = []
        self.remaining_ms: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        with self._lock:
            self.remaining_ms.append(context.get_remaining_time_in_millis())
            for record in event["Records"]:
                self.records.append(record)
                if self.should_fail(record):
                    failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    def receives(self, message_id: str) -> int:
        with self._lock:
            return sum(1 for record in self.records if record["messageId"] == message_id)


def queue_depth(sqs: SQSClient, url: str) -> int:
    names: list[Any] = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def test_success_is_deleted_and_the_event_is_lambdas(stack: EmbeddedStack, sqs: SQSClient) -> None:
    # Given a message with a message attribute on the blue queue
    url = stack.work_queue_urls["blue"]
    body = json.dumps({"dataset_id": "d-1"})
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "dataset"}},
    )
    worker = Worker()

    # When the poller runs
    with SqsPoller(sqs, url, worker, timeout_s=900, region=stack.region):
        wait_for(lambda: worker.records, what="an invocation")
        wait_for(lambda: queue_depth(sqs, url) == 0, what="the delete")

    # Then the handler got Lambda's SQS record, which Powertools parses
    (raw,) = worker.records
    record = next(iter(SQSEvent({"Records": [raw]}).records))
    assert record.message_id == sent["MessageId"]
    assert record.receipt_handle
    assert record.body == body
    assert record.md5_of_body == hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's checksum
    assert record.event_source == "aws:sqs"
    assert record.event_source_arn == stack.work_queue_arn("blue")
    assert record.aws_region == stack.region
    assert record.queue_url == url.replace(stack.endpoint_url, f"https://sqs.{stack.region}.amazonaws.com")
    assert record.attributes.approximate_receive_count == "1"
    assert record.attributes.sent_timestamp.isdigit()
    assert record.attributes.approximate_first_receive_timestamp.isdigit()
    assert record.attributes.sender_id
    assert record.message_attributes["kind"].string_value == "dataset"
    assert record.message_attributes["kind"].data_type == "String"
    assert raw["messageAttributes"]["kind"]["stringListValues"] == []
    assert raw["messageAttributes"]["kind"]["binaryListValues"] == []
    # And the context counts down from the worker timeout
    assert 899_000 < worker.remaining_ms[0] <= 900_000


def test_partial_failure_deletes_successes_and_redelivers_failures(
    stack: EmbeddedStack, sqs: SQSClient
) -> None:
    # Given a good and a bad message, delivered in one batch of ten
    url = stack.work_queue_urls["green"]
    good = sqs.send_message(QueueUrl=url, MessageBody="good")["MessageId"]
    bad = sqs.send_message(QueueUrl=url, MessageBody="bad")["MessageId"]
    worker = Worker(should_fail=lambda record: record["body"] == "bad")
    poller = SqsPoller(sqs, url, worker, batch_size=10, region=stack.region)

    # When both have been seen and the bad one comes back after the visibility timeout
    with poller:
        wait_for(lambda: worker.receives(bad) >= 2, what="the redelivery")

    # Then the good one was delivered once and deleted, the bad one redelivered
    assert worker.receives(good) == 1
    redelivered = [r for r in worker.records if r["messageId"] == bad]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in redelivered[:2]] == ["1", "2"]
    assert poller.stats.deleted == 1
    assert any(outcome.failed_ids == {bad} for outcome in poller.stats.outcomes)


def test_always_failing_message_reaches_the_dlq_after_exactly_three_receives(
    stack: EmbeddedStack, sqs: SQSClient
) -> None:
    # Given a poison message and a worker that always reports it failed
    url = stack.work_queue_urls["blue"]
    poison = sqs.send_message(QueueUrl=url, MessageBody="poison")["MessageId"]
    worker = Worker(should_fail=lambda record: True)

    # When the poller keeps receiving it
    with SqsPoller(sqs, url, worker, region=stack.region):

        def in_dlq() -> list[Any]:
            response = sqs.receive_message(QueueUrl=stack.dlq_url, WaitTimeSeconds=1)
            return response.get("Messages", [])

        (dead,) = wait_for(in_dlq, what="the DLQ")

    # Then it was received exactly maxReceiveCount times before the redrive
    assert SQS_MAX_RECEIVE_COUNT == 3
    assert worker.receives(poison) == SQS_MAX_RECEIVE_COUNT
    assert dead["MessageId"] == poison
    assert queue_depth(sqs, url) == 0


def test_handler_exception_fails_the_whole_batch(stack: EmbeddedStack, sqs: SQSClient) -> None:
    # Given a handler that raises on the first delivery only
    url = stack.work_queue_urls["blue"]
    message_id = sqs.send_message(QueueUrl=url, MessageBody="flaky")["MessageId"]
    seen: list[str] = []

    def flaky(event: dict[str, Any], context: Any) -> None:
        seen.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        if len(seen) == 1:
            raise RuntimeError("transient")

    poller = SqsPoller(sqs, url, flaky, region=stack.region)

    # When polled until it is gone
    with poller:
        wait_for(lambda: len(seen) >= 2 and queue_depth(sqs, url) == 0, what="the retry")

    # Then the first invocation failed the batch and the retry (None = success) deleted it
    assert seen[:2] == ["1", "2"]
    first = poller.stats.outcomes[0]
    assert first.failed_ids == {message_id}
    assert first.error == "RuntimeError: transient"


def test_worker_timeout_fails_the_batch(stack: EmbeddedStack, sqs: SQSClient) -> None:
    url = stack.work_queue_urls["green"]
    message_id = sqs.send_message(QueueUrl=url, MessageBody="slow")["MessageId"]
    release = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> None:
        release.wait(10)

    poller = SqsPoller(sqs, url, slow, timeout_s=0.2, region=stack.region)
    try:
        outcome = wait_for(poller.poll_once, what="a batch")
    finally:
        release.set()
    assert outcome.failed_ids == {message_id}
    assert outcome.error is not None
    assert outcome.error.startswith("TimeoutError")


def test_runtime_wires_api_queue_and_worker(stack: EmbeddedStack, sqs: SQSClient) -> None:
    # Given an API handler that enqueues on the green queue and a worker that records
    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        sqs.send_message(QueueUrl=stack.settings.green_queue_url, MessageBody=event["rawQueryString"])
        return {"statusCode": 202, "body": "{}"}

    worker = Worker()

    # When a request goes through the runtime's gateway
    with LocalRuntime(stack, api, worker) as runtime:
        # Signed: the runtime's routes use AWS_IAM authorization.
        assert HttpApi(runtime.api_url).call("POST", "/datasets?n=1", b"x").status == 202
        wait_for(lambda: worker.records, what="the worker")

    # Then the green poller delivered the message from the green queue
    assert worker.records[0]["body"] == "n=1"
    assert worker.records[0]["eventSourceARN"] == stack.work_queue_arn("green")


def test_poller_event_has_the_shape_of_the_sample_event(stack: EmbeddedStack, sqs: SQSClient) -> None:
    expected = load_event("sqs_first_delivery")
    url = stack.work_queue_urls["blue"]
    sample = expected["Records"][0]
    attributes: Any = {"route": {"DataType": "String", "StringValue": "blue"}}
    sqs.send_message(QueueUrl=url, MessageBody=sample["body"], MessageAttributes=attributes)
    worker = Worker()

    wait_for(SqsPoller(sqs, url, worker, region=stack.region).poll_once, what="a batch")

    (record,) = worker.records
    assert set(record) == set(sample)
    assert set(record["attributes"]) == set(sample["attributes"])
    assert record["messageAttributes"] == sample["messageAttributes"]
    assert record["md5OfBody"] == sample["md5OfBody"]
    assert record["md5OfMessageAttributes"] == sample["md5OfMessageAttributes"]
