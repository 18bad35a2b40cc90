"""SqsPoller: plays a Lambda SQS event source mapping for one queue.

Receive (long poll, batch size, all attributes) -> the exact Lambda SQS event ->
invoke -> delete what succeeded. Failures are not touched: they reappear after the
queue's visibility timeout, and the queue's redrive policy moves them to the DLQ,
which is exactly how a deployed mapping with ReportBatchItemFailures behaves.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from botocore.exceptions import BotoCoreError, ClientError

from csvprof.limits import SQS_BATCH_SIZE, WORKER_MEMORY_MB, WORKER_TIMEOUT_S
from csvprof.local.context import new_context
from csvprof.local.lifecycle import Service

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

# Long-poll wait: short, so stop() returns within about a second.
DEFAULT_WAIT_TIME_S = 1
# After a receive error (the emulator going away), wait before polling again.
ERROR_BACKOFF_S = 0.5


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """One invocation: which messages it carried and which stayed on the queue."""

    message_ids: tuple[str, ...]
    failed_ids: frozenset[str]
    error: str | None = None


@dataclass
class PollerStats:
    invocations: int = 0
    deleted: int = 0
    failed: int = 0
    outcomes: list[BatchOutcome] = field(default_factory=list)


class InvalidBatchResponseError(Exception):
    """A partial-batch response Lambda rejects; the whole batch counts as failed."""


# --- message -> event ------------------------------------------------------------------


def build_event(messages: Iterable[MessageTypeDef], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda delivers for a batch received from `queue_arn`."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: MessageTypeDef, queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        # Lambda passes every system attribute SQS returned (ApproximateReceiveCount,
        # SentTimestamp, SenderId, ApproximateFirstReceiveTimestamp, AWSTraceHeader, ...).
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def _message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    # The SQS API's PascalCase becomes Lambda's camelCase; binary values travel as base64.
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
    ]
    attribute["dataType"] = value["DataType"]
    return attribute


def failed_message_ids(result: Any, batch_ids: Iterable[str]) -> frozenset[str]:
    """The messages a ReportBatchItemFailures response leaves on the queue.

    Lambda's rules: no response, an empty one or an empty list is full success; an
    identifier that is empty, missing or not in the batch fails the whole batch.
    """
    ids = frozenset(batch_ids)
    if result is None:
        return frozenset()
    if not isinstance(result, dict):
        raise InvalidBatchResponseError(f"response must be an object, got {type(result).__name__}")
    failures = result.get("batchItemFailures")
    if not failures:
        return frozenset()
    if not isinstance(failures, list):
        raise InvalidBatchResponseError("batchItemFailures must be a list")
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in ids:
            raise InvalidBatchResponseError(f"itemIdentifier {identifier!r} is not a message of this batch")
        failed.add(identifier)
    return frozenset(failed)


# --- the poller ------------------------------------------------------------------------


class SqsPoller(Service):
    """One thread polling one queue and invoking `handler`, like an event source mapping."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Handler,
        *,
        function_name: str = "csvprof-worker",
        timeout_s: float = WORKER_TIMEOUT_S,
        memory_mb: int = WORKER_MEMORY_MB,
        batch_size: int = SQS_BATCH_SIZE,
        wait_time_s: int = DEFAULT_WAIT_TIME_S,
        region: str = "us-east-1",
        version: str = "$LATEST",
        qualifier: str | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler
        # The version this mapping's alias points at, and the alias (None: unqualified).
        self.version = version
        self.qualifier = qualifier
        self._pointer = threading.Lock()
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.batch_size = batch_size
        self.wait_time_s = wait_time_s
        self.region = region
        self.stats = PollerStats()
        self._queue_arn: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = attributes["Attributes"]["QueueArn"]
        return self._queue_arn

    def point(self, handler: Handler, version: str) -> None:
        """Repoint the alias, as UpdateAlias does: later invocations run `handler` as `version`;
        one already running finishes on the old one."""
        with self._pointer:
            self.handler, self.version = handler, version

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("poller already started")
        _ = self.queue_arn  # fail here, on the caller's thread, if the queue does not exist
        self._stop.clear()
        name = f"sqs-poller-{self.queue_url.rsplit('/', 1)[-1]}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the thread to stop after the current receive; stop() waits for it."""
        self._stop.set()

    def stop(self, timeout_s: float | None = None) -> None:
        """Stop polling; waits for the current receive (≤ wait_time_s) and invocation."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (BotoCoreError, ClientError):
                if self._stop.is_set():
                    return
                log.exception("receive from %s failed; retrying", self.queue_url)
                self._stop.wait(ERROR_BACKOFF_S)

    # --- one receive -> invoke -> delete cycle -------------------------------------

    def poll_once(self) -> BatchOutcome | None:
        """Receive one batch and process it; None when the long poll came back empty."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_time_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return None
        outcome = self._process(messages)
        self.stats.invocations += 1
        self.stats.failed += len(outcome.failed_ids)
        self.stats.outcomes.append(outcome)
        return outcome

    def _process(self, messages: list[MessageTypeDef]) -> BatchOutcome:
        ids = tuple(message["MessageId"] for message in messages)
        event = build_event(messages, queue_arn=self.queue_arn, region=self.region)
        try:
            failed = failed_message_ids(self._invoke(event), ids)
            error = None
        except (InvalidBatchResponseError, TimeoutError) as exc:
            failed, error = frozenset(ids), f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # A function error fails the whole batch; Lambda would log it to CloudWatch.
            log.exception("%s raised; the batch stays on %s", self.function_name, self.queue_url)
            failed, error = frozenset(ids), f"{type(exc).__name__}: {exc}"
        self._delete([m for m in messages if m["MessageId"] not in failed])
        return BatchOutcome(message_ids=ids, failed_ids=failed, error=error)

    def _invoke(self, event: dict[str, Any]) -> Any:
        with self._pointer:
            handler, version = self.handler, self.version
        context = new_context(
            self.function_name,
            memory_mb=self.memory_mb,
            timeout_s=self.timeout_s,
            region=self.region,
            version=version,
            qualifier=self.qualifier,
        )
        future: Future[Any] = Future()

        def run() -> None:
            try:
                future.set_result(handler(event, context))
            except BaseException as exc:  # noqa: BLE001 - not swallowed: re-raised by future.result()
                future.set_exception(exc)

        # Its own thread so the timeout can be enforced; a timed-out invocation is abandoned,
        # as Lambda abandons the sandbox, and its messages come back after the visibility timeout.
        threading.Thread(target=run, name=f"{self.function_name}-invoke", daemon=True).start()
        try:
            return future.result(timeout=self.timeout_s)
        except TimeoutError as exc:
            raise TimeoutError(f"{self.function_name} timed out after {self.timeout_s} s") from exc

    def _delete(self, messages: list[MessageTypeDef]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            result = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            self.stats.deleted += len(result.get("Successful", []))
            for failure in result.get("Failed", []):
                log.warning("delete failed on %s: %s", self.queue_url, failure.get("Message"))
