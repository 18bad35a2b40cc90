"""The retry / last-receive policy: a domain decision, on in-memory ports.

A data error (the file's fault) ends the dataset FAILED on the first delivery. Anything else
fails the delivery for the queue to retry after a short, growing delay; on the last receive the
dataset is parked (PROCESSING, `dead_lettered_at`), never FAILED, so a broken release leaves its
datasets to a redrive of the DLQ, which finishes them with exactly one terminal event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import pytest

from csvprof.contracts.events import DATASET_PROFILED, DATASET_PROFILING_FAILED
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import Profile
from csvprof.domain.ports import Budget
from csvprof.domain.processing import Delivery, DeliveryFailed, Worker
from csvprof.errors import (
    CsvParseError,
    EmptyFile,
    EncodingError,
    FieldTooLarge,
    FileTooLarge,
    InternalError,
    LeaseExpired,
    MemoryLimitExceeded,
    SourceMissing,
    TimeLimitExceeded,
    TooManyColumns,
    UnknownDataset,
    registry,
)
from csvprof.limits import RETRY_BASE_DELAY_S, RETRY_MAX_DELAY_S, SQS_MAX_RECEIVE_COUNT
from csvprof.profiler import ArrowProfileEngine, default_budget
from tests.support.contracts import assert_valid
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingPublisher

ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")
NOW = datetime(2026, 11, 25, tzinfo=UTC)


class ProfileStoreDown(InMemoryArtifacts):
    """S3 refuses the profile write: an outage, not a client mistake."""

    def put_profile(self, profile: Profile) -> int:
        raise ConnectionError("S3 is unreachable")


class BrokenEngine:
    """A bad release: the engine raises something no profile path expects."""

    def profile(
        self, source: BinaryIO, *, size: int | None, budget: Budget, dataset_id: DatasetId | None = None
    ) -> Profile:
        raise AttributeError("'NoneType' object has no attribute 'columns'")


def delivery(receive_count: int, route: str = "blue") -> Delivery:
    return Delivery(
        DatasetMessage(ID, "blue", "2026-11-25T00:00:00.000Z"),
        receive_count,
        SQS_MAX_RECEIVE_COUNT,
        "green" if route == "green" else "blue",
        "7",
    )


def setup(
    artifacts: InMemoryArtifacts | None = None, engine: object | None = None
) -> tuple[Worker, InMemoryMetas, RecordingPublisher]:
    metas, events = InMemoryMetas(), RecordingPublisher()
    artifacts = artifacts if artifacts is not None else InMemoryArtifacts()
    metas.create(Meta.new(ID, name=None, route="blue", source_bytes=8, now=NOW))
    artifacts.put_source(ID, b"a,b\n1,2\n", None)
    worker = Worker(
        metas,
        artifacts,
        events,
        engine or ArrowProfileEngine(workers=1),
        now=lambda: NOW,  # type: ignore[arg-type]
    )
    return worker, metas, events


@pytest.mark.parametrize(("receive_count", "last"), [(1, False), (2, False), (3, True), (4, True)])
def test_the_last_receive_is_the_one_the_queue_dead_letters_after(receive_count: int, last: bool) -> None:
    assert delivery(receive_count).last is last
    assert delivery(receive_count).redelivered is (receive_count > 1)


def test_retries_come_back_after_a_short_growing_delay_not_the_visibility_timeout() -> None:
    delays = [delivery(n).retry_delay_s(RETRY_BASE_DELAY_S, RETRY_MAX_DELAY_S) for n in (1, 2, 3, 4, 9)]
    assert delays == [30, 120, 480, RETRY_MAX_DELAY_S, RETRY_MAX_DELAY_S]


DATA_ERRORS = {
    CsvParseError,
    EncodingError,
    EmptyFile,
    FieldTooLarge,
    TooManyColumns,
    FileTooLarge,
    SourceMissing,
    # Properties of the file under the fixed limits: the same file fails the same way again.
    TimeLimitExceeded,
    MemoryLimitExceeded,
    # Written by the reconciler, never raised by a delivery: terminal by definition.
    LeaseExpired,
}


def test_only_internal_errors_are_retried_every_other_worker_code_is_terminal() -> None:
    worker_codes = {cls for cls in registry().values() if cls.component == "worker"}
    assert {cls for cls in worker_codes if not cls.retried} == DATA_ERRORS
    assert {cls for cls in worker_codes if cls.retried} == {InternalError}


def test_a_delivery_that_succeeds_returns_its_outcome_and_records_its_claim() -> None:
    worker, _metas, _ = setup()
    outcome = worker.deliver(delivery(1, route="green"), default_budget())
    assert (outcome.processed, outcome.meta.status) == (True, Status.READY)
    assert outcome.profile is not None
    assert outcome.profile.dataset_id == ID
    assert [(c.route, c.version) for c in outcome.meta.claims] == [("green", "7")]


def test_a_data_error_is_terminal_on_the_first_delivery() -> None:
    worker, metas, events = setup()
    metas.stored.clear()
    metas.create(Meta.new(ID, name=None, route="blue", source_bytes=8, now=NOW))
    worker.artifacts.sources[ID] = (b'a,b\n"open\n', None)  # type: ignore[attr-defined]
    outcome = worker.deliver(delivery(1), default_budget())
    assert outcome.meta.status is Status.FAILED
    assert outcome.meta.error is not None
    assert outcome.meta.error.code == "CSV_PARSE_ERROR"
    assert [e.detail_type for e in events.published] == [DATASET_PROFILING_FAILED]


@pytest.mark.parametrize("receive_count", range(1, SQS_MAX_RECEIVE_COUNT))
@pytest.mark.parametrize("broken", ["store", "engine"])
def test_an_early_unexpected_failure_is_left_to_the_queue(receive_count: int, broken: str) -> None:
    worker, metas, events = setup(ProfileStoreDown()) if broken == "store" else setup(engine=BrokenEngine())
    with pytest.raises(DeliveryFailed) as failed:
        worker.deliver(delivery(receive_count), default_budget())
    assert failed.value.retry_in_s == RETRY_BASE_DELAY_S * 4 ** (receive_count - 1)
    assert not failed.value.parked
    cause = failed.value.__cause__
    # An engine bug is INTERNAL_ERROR, which is not the file's fault: retried, not FAILED.
    assert isinstance(cause, ConnectionError if broken == "store" else InternalError)
    meta = metas.stored[ID][0]
    assert (meta.status, meta.dead_lettered_at) == (Status.PROCESSING, None)  # the next receive re-claims it
    assert events.published == []


def test_the_last_unexpected_failure_parks_the_dataset_for_a_redrive() -> None:
    worker, metas, events = setup(engine=BrokenEngine())
    for count in range(1, SQS_MAX_RECEIVE_COUNT + 1):
        with pytest.raises(DeliveryFailed) as failed:
            worker.deliver(delivery(count), default_budget())
    assert failed.value.parked
    meta = metas.stored[ID][0]
    assert (meta.status, meta.error, meta.completed_at) == (Status.PROCESSING, None, None)
    assert meta.dead_lettered_at == "2026-11-25T00:00:00.000Z"
    assert meta.attempts == len(meta.claims) == SQS_MAX_RECEIVE_COUNT
    assert_valid("meta", meta.to_dict())
    assert events.published == []  # no terminal event for a dataset a fix can still finish


def test_a_redriven_message_finishes_a_parked_dataset_with_one_terminal_event() -> None:
    broken, metas, events = setup(engine=BrokenEngine())
    for count in range(1, SQS_MAX_RECEIVE_COUNT + 1):
        with pytest.raises(DeliveryFailed):
            broken.deliver(delivery(count), default_budget())
    # The fix is deployed and the DLQ redriven a minute later: the message starts again at 1,
    # and the meta is far from stale, yet the parked dataset is taken at once.
    later = NOW + timedelta(minutes=1)
    fixed = Worker(metas, broken.artifacts, events, ArrowProfileEngine(workers=1), now=lambda: later)
    outcome = fixed.deliver(delivery(1, route="green"), default_budget())
    assert (outcome.processed, outcome.meta.status, outcome.meta.dead_lettered_at) == (
        True,
        Status.READY,
        None,
    )
    assert outcome.meta.claims[-1].route == "green"
    assert [e.detail_type for e in events.published] == [DATASET_PROFILED]
    assert_valid("meta", outcome.meta.to_dict())


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
    assert not failed.value.parked
    stored = metas.stored[ID][0]
    assert stored.error is not None
    assert (stored.error.code, stored.dead_lettered_at) == ("CSV_PARSE_ERROR", None)  # not overwritten


def test_a_park_that_cannot_be_written_still_fails_the_delivery() -> None:
    worker, metas, _events = setup(engine=BrokenEngine())
    with pytest.raises(DeliveryFailed):
        worker.deliver(delivery(1), default_budget())

    def s3_down(meta: Meta, etag: str) -> str:
        raise ConnectionError("S3 is unreachable")

    metas.replace = s3_down  # type: ignore[method-assign]
    with pytest.raises(DeliveryFailed) as failed:
        worker.deliver(delivery(SQS_MAX_RECEIVE_COUNT), default_budget())
    assert not failed.value.parked  # PROCESSING unmarked: the reconciler's ordinary lease applies


def test_a_message_for_no_dataset_goes_to_the_dlq_as_it_is() -> None:
    worker, metas, events = setup()
    metas.stored.clear()
    with pytest.raises(UnknownDataset):
        worker.deliver(delivery(SQS_MAX_RECEIVE_COUNT), default_budget())
    assert events.published == []
