"""The retry / last-receive policy: a domain decision, on in-memory ports.

Given a delivery that fails unexpectedly, the queue must see the failure (to redeliver or
dead-letter the message); on the last receive the dataset is first recorded FAILED, so no
dataset whose message ends in the DLQ is left UPLOADED or PROCESSING.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csvprof.contracts.events import DATASET_PROFILING_FAILED
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import Profile
from csvprof.domain.processing import Delivery, DeliveryFailed, Worker
from csvprof.errors import UnknownDataset
from csvprof.limits import SQS_MAX_RECEIVE_COUNT
from csvprof.profiler import ArrowProfileEngine, default_budget
from tests.support.contracts import assert_valid
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingPublisher

ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")
NOW = datetime(2026, 11, 25, tzinfo=UTC)


class ProfileStoreDown(InMemoryArtifacts):
    """S3 refuses the profile write: an outage, not a client mistake."""

    def put_profile(self, profile: Profile) -> int:
        raise ConnectionError("S3 is unreachable")


def delivery(receive_count: int) -> Delivery:
    return Delivery(
        DatasetMessage(ID, "blue", "2026-11-25T00:00:00.000Z"), receive_count, SQS_MAX_RECEIVE_COUNT
    )


def setup(artifacts: InMemoryArtifacts | None = None) -> tuple[Worker, InMemoryMetas, RecordingPublisher]:
    metas, events = InMemoryMetas(), RecordingPublisher()
    artifacts = artifacts if artifacts is not None else InMemoryArtifacts()
    metas.create(Meta.new(ID, name=None, route="blue", source_bytes=8, now=NOW))
    artifacts.put_source(ID, b"a,b\n1,2\n", None)
    return Worker(metas, artifacts, events, ArrowProfileEngine(workers=1), now=lambda: NOW), metas, events


@pytest.mark.parametrize(("receive_count", "last"), [(1, False), (2, False), (3, True), (4, True)])
def test_the_last_receive_is_the_one_the_queue_dead_letters_after(receive_count: int, last: bool) -> None:
    assert delivery(receive_count).last is last
    assert delivery(receive_count).redelivered is (receive_count > 1)


def test_a_delivery_that_succeeds_returns_its_outcome() -> None:
    worker, _metas, _ = setup()
    outcome = worker.deliver(delivery(1), default_budget())
    assert (outcome.processed, outcome.meta.status) == (True, Status.READY)
    assert outcome.profile is not None
    assert outcome.profile.dataset_id == ID


@pytest.mark.parametrize("receive_count", range(1, SQS_MAX_RECEIVE_COUNT))
def test_an_early_unexpected_failure_is_left_to_the_queue(receive_count: int) -> None:
    worker, metas, events = setup(ProfileStoreDown())
    with pytest.raises(DeliveryFailed) as failed:
        worker.deliver(delivery(receive_count), default_budget())
    assert failed.value.recorded is None
    assert isinstance(failed.value.__cause__, ConnectionError)
    assert metas.stored[ID][0].status is Status.PROCESSING  # the next receive re-claims it
    assert events.published == []


def test_the_last_unexpected_failure_records_failed_before_the_dlq() -> None:
    worker, metas, events = setup(ProfileStoreDown())
    with pytest.raises(DeliveryFailed) as failed:
        worker.deliver(delivery(SQS_MAX_RECEIVE_COUNT), default_budget())
    recorded = failed.value.recorded
    assert recorded is not None
    assert recorded.meta.status is Status.FAILED
    assert recorded.meta.error is not None
    assert recorded.meta.error.code == "INTERNAL_ERROR"
    assert "ConnectionError" in recorded.meta.error.message
    assert metas.stored[ID][0] == recorded.meta
    assert_valid("meta", recorded.meta.to_dict())
    assert [e.detail_type for e in events.published] == [DATASET_PROFILING_FAILED]


def test_a_last_failure_on_a_terminal_dataset_records_nothing_more() -> None:
    worker, metas, _events = setup(ProfileStoreDown())
    meta, etag = metas.stored[ID]
    metas.replace(meta.start(NOW).failed("CSV_PARSE_ERROR", "bad quote", NOW), etag)

    # A redelivery of a terminal dataset re-sends its event; make that fail: the bus is down.
    class PublisherDown(RecordingPublisher):
        def publish(self, event: object) -> None:  # type: ignore[override]
            raise ConnectionError("EventBridge is unreachable")

    worker = Worker(metas, worker.artifacts, PublisherDown(), worker.engine, now=lambda: NOW)
    with pytest.raises(DeliveryFailed) as failed:
        worker.deliver(delivery(SQS_MAX_RECEIVE_COUNT), default_budget())
    assert failed.value.recorded is None
    assert metas.stored[ID][0].error is not None
    assert metas.stored[ID][0].error.code == "CSV_PARSE_ERROR"  # not overwritten


def test_a_message_for_no_dataset_goes_to_the_dlq_as_it_is() -> None:
    worker, metas, events = setup()
    metas.stored.clear()
    with pytest.raises(UnknownDataset):
        worker.deliver(delivery(SQS_MAX_RECEIVE_COUNT), default_budget())
    assert events.published == []
