"""The worker handler's batch semantics, with the use case on in-memory ports.

The realistic SQS event comes from tests/events; the failure is injected at the
storage port, the way an S3 outage would surface.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from csvprof.config import Settings
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import Profile
from csvprof.domain.processing import Worker
from csvprof.handlers.worker import make_handler
from csvprof.limits import SQS_MAX_RECEIVE_COUNT
from csvprof.local.context import new_context
from csvprof.profiler import ArrowProfileEngine
from tests.support.events import load_event
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingPublisher

ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")
SETTINGS = Settings(bucket="b", blue_queue_url="q1", green_queue_url="q2", event_bus_name="bus")


class ProfileStoreDown(InMemoryArtifacts):
    def put_profile(self, profile: Profile) -> int:
        raise ConnectionError("S3 is unreachable")


def sqs_event(receive_count: int, body: str | None = None) -> dict[str, Any]:
    event = load_event("sqs_dataset_message")
    record = event["Records"][0]
    record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    if body is not None:
        record["body"] = body
    return event


def run(
    receive_count: int, body: str | None = None
) -> tuple[dict[str, Any], InMemoryMetas, RecordingPublisher]:
    metas, artifacts, events = InMemoryMetas(), ProfileStoreDown(), RecordingPublisher()
    metas.create(Meta.new(ID, name=None, route="blue", source_bytes=8, now=datetime.now(UTC)))
    artifacts.put_source(ID, b"a,b\n1,2\n", None)
    worker = Worker(metas, artifacts, events, ArrowProfileEngine(), now=lambda: datetime.now(UTC))
    handler = make_handler(SETTINGS, worker=worker)
    context = new_context("csvprof-worker", memory_mb=2048, timeout_s=900, region="us-east-1")
    return handler(sqs_event(receive_count, body), context), metas, events


def failed_ids(answer: dict[str, Any]) -> list[str]:
    return [item["itemIdentifier"] for item in answer["batchItemFailures"]]


def test_an_infrastructure_failure_fails_the_record_for_a_retry() -> None:
    answer, metas, events = run(receive_count=1)
    assert failed_ids(answer) == [load_event("sqs_dataset_message")["Records"][0]["messageId"]]
    assert metas.stored[ID][0].status is Status.PROCESSING  # the retry will re-claim it
    assert events.published == []


def test_the_last_receive_marks_the_dataset_failed_before_the_dlq(capsys: pytest.CaptureFixture[str]) -> None:
    answer, metas, events = run(receive_count=SQS_MAX_RECEIVE_COUNT)
    assert len(failed_ids(answer)) == 1  # still failed: SQS moves it to the DLQ
    meta = metas.stored[ID][0]
    assert meta.status is Status.FAILED
    assert meta.error is not None
    assert meta.error.code == "INTERNAL_ERROR"
    assert "ConnectionError" in meta.error.message
    assert [e.detail_type for e in events.published] == ["Dataset Profiling Failed"]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("ProfilesFailed" in blob for blob in emf)


def test_a_poison_body_fails_the_record_and_touches_nothing() -> None:
    answer, metas, events = run(receive_count=SQS_MAX_RECEIVE_COUNT, body='{"dataset_id": "nope"}')
    assert len(failed_ids(answer)) == 1
    assert metas.stored[ID][0].status is Status.UPLOADED
    assert events.published == []
