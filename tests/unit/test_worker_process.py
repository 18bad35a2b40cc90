"""The worker use case against in-memory ports: every data outcome ends terminal, with one event;
an engine bug is not the file's fault and is left to the delivery policy (test_delivery_policy.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import pytest

from csvprof.contracts.events import DATASET_PROFILED, DATASET_PROFILING_FAILED
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import Profile
from csvprof.domain.ports import Budget
from csvprof.domain.processing import Worker, record_failure
from csvprof.errors import CsvParseError, InternalError, LeaseExpired, UnknownDataset
from csvprof.limits import WORKER_TIMEOUT_S
from csvprof.profiler import ArrowProfileEngine, default_budget
from tests.support.contracts import assert_valid
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingPublisher

ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")
NOW = datetime(2026, 11, 25, tzinfo=UTC)


class FailingEngine:
    """An engine port that raises what it is given: a registry error or a bug."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def profile(
        self, source: BinaryIO, *, size: int | None, budget: Budget, dataset_id: DatasetId | None = None
    ) -> Profile:
        raise self.error


def setup(
    engine: Any = None, source: bytes | None = b"a,b\n1,x\n2,y\n"
) -> tuple[Worker, InMemoryMetas, RecordingPublisher]:
    metas, artifacts, events = InMemoryMetas(), InMemoryArtifacts(), RecordingPublisher()
    metas.create(Meta.new(ID, name="t.csv", route="green", source_bytes=12, now=NOW))
    if source is not None:
        artifacts.put_source(ID, source, "t.csv")
    worker = Worker(metas, artifacts, events, engine or ArrowProfileEngine(), now=lambda: NOW)
    return worker, metas, events


def message() -> DatasetMessage:
    return DatasetMessage(ID, "green", "2026-11-25T00:00:00.000Z")


def test_success_writes_ready_and_one_profiled_event() -> None:
    worker, metas, events = setup()
    outcome = worker.process(message(), receive_count=1, budget=default_budget())
    meta = metas.stored[ID][0]
    assert (outcome.processed, meta.status, meta.attempts) == (True, Status.READY, 1)
    assert_valid("meta", meta.to_dict())
    assert [e.detail_type for e in events.published] == [DATASET_PROFILED]
    assert_valid("event-dataset-profiled", events.published[0].detail)
    assert events.published[0].detail["rows"] == 2


@pytest.mark.parametrize(
    ("engine", "source", "code"),
    [
        (FailingEngine(CsvParseError("bad quote")), b"x", "CSV_PARSE_ERROR"),
        (None, None, "SOURCE_MISSING"),
    ],
    ids=["registry-error", "no-source"],
)
def test_failures_end_failed_with_their_code_and_one_event(
    engine: Any, source: bytes | None, code: str
) -> None:
    worker, metas, events = setup(engine, source)
    worker.process(message(), receive_count=1, budget=default_budget())
    meta = metas.stored[ID][0]
    assert meta.status is Status.FAILED
    assert meta.error is not None
    assert meta.error.code == code
    assert meta.completed_at is not None
    assert [e.detail_type for e in events.published] == [DATASET_PROFILING_FAILED]
    assert_valid("event-dataset-profiling-failed", events.published[0].detail)


@pytest.mark.parametrize("bug", [ZeroDivisionError("a bug"), InternalError("worker process died")])
def test_an_engine_bug_fails_the_delivery_not_the_dataset(bug: Exception) -> None:
    worker, metas, events = setup(FailingEngine(bug), b"x")
    with pytest.raises(InternalError):
        worker.process(message(), receive_count=1, budget=default_budget())
    assert metas.stored[ID][0].status is Status.PROCESSING
    assert events.published == []


def test_record_failure_fails_an_unclaimed_dataset_through_processing_once() -> None:
    _worker, metas, events = setup()
    now = lambda: NOW  # noqa: E731
    meta, changed = record_failure(metas, events, now, ID, LeaseExpired("gone"))
    assert (changed, meta.status, meta.attempts) == (True, Status.FAILED, 1)
    assert meta.started_at is not None
    assert_valid("meta", meta.to_dict())
    assert len(events.published) == 1
    # A second call finds it terminal: nothing is written or sent again.
    assert record_failure(metas, events, now, ID, LeaseExpired("again"))[1] is False
    assert len(events.published) == 1


def test_a_message_for_an_unknown_dataset_is_poison() -> None:
    worker, metas, _ = setup()
    metas.stored.clear()
    with pytest.raises(UnknownDataset):
        worker.process(message(), receive_count=1, budget=default_budget())


@pytest.mark.parametrize(("age_s", "reclaimed"), [(30, False), (WORKER_TIMEOUT_S + 1, True)])
def test_a_first_delivery_reclaims_only_a_stale_processing_dataset(age_s: int, reclaimed: bool) -> None:
    # A message redriven from the DLQ arrives with receive count 1: only the meta's age tells
    # a dead worker's dataset from one whose worker is still running.
    worker, metas, _ = setup()
    meta, etag = metas.stored[ID]
    metas.replace(meta.start(NOW - timedelta(seconds=age_s)), etag)
    outcome = worker.process(message(), receive_count=1, budget=default_budget())
    assert outcome.processed is reclaimed
    final = metas.stored[ID][0]
    assert (final.status, final.attempts) == ((Status.READY, 2) if reclaimed else (Status.PROCESSING, 1))
