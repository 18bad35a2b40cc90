"""The worker handler's batch semantics, with the use case on in-memory ports.

Each SQS event is a file in tests/events, named by its scenario (first delivery, redelivery,
last delivery, poison body, a message from an older API that still carries source_key).
Infrastructure failures are injected at the storage port, the way an S3 outage would surface.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from csvprof.config import Settings
from csvprof.contracts.events import DATASET_PROFILED
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import Profile
from csvprof.domain.processing import Worker
from csvprof.handlers.worker import make_handler
from csvprof.limits import RETRY_BASE_DELAY_S, SQS_MAX_RECEIVE_COUNT
from csvprof.local.context import new_context
from csvprof.profiler import ArrowProfileEngine
from tests.support.contracts import assert_valid
from tests.support.events import load_event
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingPublisher, RecordingQueue

ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")
SOURCE = b"a,b\n1,2\n3,4\n"
QUEUES = "https://sqs.us-east-1.amazonaws.com/123456789012/csvprof-work"
SETTINGS = Settings(
    bucket="b", blue_queue_url=f"{QUEUES}-blue", green_queue_url=f"{QUEUES}-green", event_bus_name="bus"
)


class ProfileStoreDown(InMemoryArtifacts):
    def put_profile(self, profile: Profile) -> int:
        raise ConnectionError("S3 is unreachable")


@dataclass
class Run:
    """One invocation of the worker handler: its answer and what the ports saw."""

    event: dict[str, Any]
    answer: dict[str, Any]
    metas: InMemoryMetas
    artifacts: InMemoryArtifacts
    events: RecordingPublisher
    queue: RecordingQueue

    @property
    def failed_ids(self) -> list[str]:
        return [item["itemIdentifier"] for item in self.answer["batchItemFailures"]]

    @property
    def message_id(self) -> str:
        message_id: str = self.event["Records"][0]["messageId"]
        return message_id

    @property
    def meta(self) -> Meta:
        return self.metas.stored[ID][0]


def run(event_name: str, *, store_down: bool = False, status: Status = Status.UPLOADED) -> Run:
    """Given dataset ID registered (UPLOADED, or claimed by an earlier delivery when PROCESSING)
    with its source stored, when the worker handler gets tests/events/<event_name>.json."""
    metas = InMemoryMetas()
    artifacts = ProfileStoreDown() if store_down else InMemoryArtifacts()
    events = RecordingPublisher()
    meta = Meta.new(ID, name=None, route="blue", source_bytes=len(SOURCE), now=datetime.now(UTC))
    if status is Status.PROCESSING:
        meta = meta.start(datetime.now(UTC))
    metas.create(meta)
    artifacts.put_source(ID, SOURCE, None)
    metas.calls.clear()
    artifacts.calls.clear()
    worker = Worker(metas, artifacts, events, ArrowProfileEngine(), now=lambda: datetime.now(UTC))
    queue = RecordingQueue()
    handler = make_handler(SETTINGS, worker=worker, retries=queue)
    context = new_context("csvprof-worker", memory_mb=2048, timeout_s=900, region="us-east-1")
    event = load_event(event_name)
    return Run(event, handler(event, context), metas, artifacts, events, queue)


def receive_count(event_name: str) -> int:
    return int(load_event(event_name)["Records"][0]["attributes"]["ApproximateReceiveCount"])


def test_the_sample_deliveries_count_up_to_the_queues_max_receive_count() -> None:
    # The scenarios below rely on these counts: what SQS would say on each receive.
    counts = [receive_count(n) for n in ("sqs_first_delivery", "sqs_redelivery", "sqs_last_delivery")]
    assert counts == [1, 2, SQS_MAX_RECEIVE_COUNT]
    for name in ("sqs_first_delivery", "sqs_redelivery", "sqs_last_delivery"):
        assert_valid("queue-message", json.loads(load_event(name)["Records"][0]["body"]))


def test_a_first_delivery_profiles_the_dataset_and_reports_no_failure() -> None:
    result = run("sqs_first_delivery")
    assert result.failed_ids == []
    assert (result.meta.status, result.meta.attempts) == (Status.READY, 1)
    assert f"put_profile {ID}" in result.artifacts.calls
    assert [e.detail_type for e in result.events.published] == [DATASET_PROFILED]
    assert_valid("event-dataset-profiled", result.events.published[0].detail)


def test_an_infrastructure_failure_fails_the_record_for_a_retry_soon() -> None:
    result = run("sqs_first_delivery", store_down=True)
    assert result.failed_ids == [result.message_id]
    assert result.meta.status is Status.PROCESSING  # the retry will re-claim it
    assert result.events.published == []
    # Not after the queue's 5,400 s: the record's receipt comes back after the first retry delay.
    receipt = result.event["Records"][0]["receiptHandle"]
    assert result.queue.postponed == [("blue", receipt, RETRY_BASE_DELAY_S)]


def test_a_redelivery_reclaims_the_dataset_its_dead_worker_left_processing() -> None:
    # Given the first delivery's worker died after its claim (meta PROCESSING, attempt 1)
    result = run("sqs_redelivery", status=Status.PROCESSING)
    # Then the redelivery claims it again and finishes it
    assert result.failed_ids == []
    assert (result.meta.status, result.meta.attempts) == (Status.READY, 2)
    assert [e.detail_type for e in result.events.published] == [DATASET_PROFILED]


def test_a_failed_redelivery_is_retried_again_without_marking_the_dataset() -> None:
    result = run("sqs_redelivery", store_down=True, status=Status.PROCESSING)
    assert result.failed_ids == [result.message_id]
    assert result.meta.status is Status.PROCESSING  # not the last receive: no FAILED yet
    assert result.events.published == []


def test_the_last_receive_parks_the_dataset_for_a_redrive_of_the_dlq() -> None:
    result = run("sqs_last_delivery", store_down=True, status=Status.PROCESSING)
    assert result.failed_ids == [result.message_id]  # still failed: SQS moves it to the DLQ
    meta = result.meta
    assert (meta.status, meta.error) == (Status.PROCESSING, None)
    assert meta.dead_lettered_at is not None
    assert_valid("meta", meta.to_dict())
    assert result.events.published == []  # nothing terminal: a redrive can still finish it
    assert [delay for _, _, delay in result.queue.postponed] == [
        RETRY_BASE_DELAY_S * 4 ** (SQS_MAX_RECEIVE_COUNT - 1)
    ]


def test_a_claim_records_the_queue_and_the_functions_version() -> None:
    result = run("sqs_first_delivery")
    assert [(c.route, c.version) for c in result.meta.claims] == [("blue", "$LATEST")]


def test_a_poison_body_fails_the_record_and_touches_nothing() -> None:
    result = run("sqs_poison_body")
    assert result.failed_ids == [result.message_id]
    assert (result.metas.calls, result.artifacts.calls) == ([], [])
    assert result.meta.status is Status.UPLOADED
    assert result.events.published == []


def test_a_message_from_an_older_api_with_source_key_is_still_processed() -> None:
    # Given a message body that still carries source_key (no longer sent, still accepted)
    body = json.loads(load_event("sqs_legacy_source_key")["Records"][0]["body"])
    assert body["source_key"] == f"raw/{ID}/source.csv"
    assert_valid("queue-message", body)
    # Then it parses to the same message, and the dataset is profiled
    assert DatasetMessage.parse(json.dumps(body)).dataset_id == ID
    result = run("sqs_legacy_source_key")
    assert result.failed_ids == []
    assert result.meta.status is Status.READY
    assert [e.detail_type for e in result.events.published] == [DATASET_PROFILED]


def test_a_legacy_message_whose_source_key_is_not_the_raw_key_is_poison() -> None:
    event = load_event("sqs_legacy_source_key")
    record = event["Records"][0]
    body = json.loads(record["body"])
    body["source_key"] = "raw/another/source.csv"
    record["body"] = json.dumps(body)
    metas, events = InMemoryMetas(), RecordingPublisher()
    worker = Worker(metas, InMemoryArtifacts(), events, ArrowProfileEngine(), now=lambda: datetime.now(UTC))
    context = new_context("csvprof-worker", memory_mb=2048, timeout_s=900, region="us-east-1")
    answer = make_handler(SETTINGS, worker=worker)(event, context)
    assert [i["itemIdentifier"] for i in answer["batchItemFailures"]] == [record["messageId"]]
    assert (metas.calls, events.published) == ([], [])
