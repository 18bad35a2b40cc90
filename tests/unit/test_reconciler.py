"""The reconciler's decisions, on in-memory ports: what it re-enqueues, fails, and never touches."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from csvprof.contracts.events import DATASET_PROFILING_FAILED, completion_event
from csvprof.contracts.keys import DatasetId, new_dataset_id
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Route, Status
from csvprof.contracts.timefmt import format_ts
from csvprof.domain.ports import Versioned
from csvprof.domain.reconcile import Reconciler
from tests.support.contracts import assert_valid
from tests.support.fakes import InMemoryMetas, RecordingPublisher, RecordingQueue

T0 = datetime(2025, 1, 1, tzinfo=UTC)
VISIBILITY = timedelta(seconds=5400)
MAX_RECEIVES = 3
STALE = timedelta(minutes=10)


@dataclass
class Clock:
    at: datetime = T0

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    clock: Clock
    metas: InMemoryMetas
    queue: RecordingQueue
    events: RecordingPublisher

    def reconciler(self, **overrides: object) -> Reconciler:
        base = Reconciler(
            metas=self.metas,
            queue=self.queue,
            events=self.events,
            now=self.clock,
            visibility_timeout=VISIBILITY,
            max_receives=MAX_RECEIVES,
            stale_uploaded_after=STALE,
        )
        return replace(base, **overrides)  # type: ignore[arg-type]

    def uploaded(self, at: datetime, route: Route = "blue") -> DatasetId:
        """A dataset registered at `at` whose message was never sent."""
        dataset_id = new_dataset_id()
        self.clock.at = at
        self.metas.create(Meta.new(dataset_id, name="a.csv", route=route, source_bytes=3, now=at))
        return dataset_id

    def processing(self, claimed_at: datetime, attempts: int) -> DatasetId:
        """A dataset last claimed at `claimed_at`, `attempts` claims so far."""
        dataset_id = self.uploaded(claimed_at)
        current = self.meta(dataset_id)
        claimed = replace(current.start(claimed_at), attempts=attempts)
        self.metas.replace(claimed, self._etag(dataset_id))
        return dataset_id

    def meta(self, dataset_id: DatasetId) -> Meta:
        return self.metas.stored[dataset_id][0]

    def _etag(self, dataset_id: DatasetId) -> str:
        return self.metas.stored[dataset_id][1]

    def write(self, meta: Meta) -> None:
        """Another writer (a worker) changes the meta."""
        self.metas.replace(meta, self._etag(meta.dataset_id))


@pytest.fixture
def world() -> World:
    clock = Clock()
    return World(clock, InMemoryMetas(clock=clock), RecordingQueue(), RecordingPublisher())


def test_a_fresh_uploaded_dataset_is_not_even_read(world: World) -> None:
    dataset_id = world.uploaded(T0)
    world.clock.at = T0 + STALE - timedelta(seconds=1)
    report = world.reconciler().run()
    assert (report.examined, report.read, report.reconciled) == (1, 0, 0)
    assert f"load {dataset_id}" not in world.metas.calls
    assert world.queue.sent == []


def test_a_stale_uploaded_dataset_is_enqueued_again_once_per_run(world: World) -> None:
    dataset_id = world.uploaded(T0, route="green")
    for run in (1, 2):
        world.clock.at = T0 + STALE * run
        report = world.reconciler().run()
        assert report.requeued == (dataset_id,)
        assert len(world.queue.sent) == run
        # The message the API sends, on the dataset's own route.
        message = DatasetMessage(dataset_id, "green", format_ts(world.clock.at))
        assert world.queue.sent[-1] == ("green", message)
    assert world.meta(dataset_id).status is Status.UPLOADED  # the worker claims it, not the reconciler
    assert world.events.published == []


@pytest.mark.parametrize(("attempts", "lease"), [(1, 3), (2, 2), (3, 1), (4, 1)])
def test_the_lease_is_a_visibility_timeout_per_receive_left(world: World, attempts: int, lease: int) -> None:
    dataset_id = world.processing(T0, attempts)
    assert world.reconciler().lease_end(world.meta(dataset_id)) == T0 + VISIBILITY * lease


def test_a_processing_dataset_within_its_lease_is_untouched(world: World) -> None:
    dataset_id = world.processing(T0, attempts=1)
    world.clock.at = T0 + VISIBILITY * 3 - timedelta(seconds=1)
    report = world.reconciler().run()
    assert (report.read, report.reconciled) == (1, 0)
    assert world.meta(dataset_id).status is Status.PROCESSING
    assert f"replace {dataset_id}" not in world.metas.calls[-1:]
    assert world.events.published == []
    assert world.queue.sent == []


def test_past_its_lease_a_processing_dataset_fails_with_one_event(world: World) -> None:
    dataset_id = world.processing(T0, attempts=MAX_RECEIVES)
    world.clock.at = T0 + VISIBILITY
    report = world.reconciler().run()
    assert report.abandoned == (dataset_id,)
    meta = world.meta(dataset_id)
    assert meta.status is Status.FAILED
    assert meta.error is not None
    assert meta.error.code == "LEASE_EXPIRED"
    assert meta.completed_at == format_ts(world.clock.at)
    assert_valid("meta", meta.to_dict())
    (event,) = world.events.published
    assert event.detail_type == DATASET_PROFILING_FAILED
    assert event == completion_event(meta)  # the worker's own event for a FAILED meta
    assert_valid("event-dataset-profiling-failed", event.detail)

    world.clock.at += timedelta(minutes=5)
    assert world.reconciler().run().reconciled == 0
    assert len(world.events.published) == 1  # terminal now: never announced twice
    assert world.queue.sent == []


@pytest.mark.parametrize("status", [Status.READY, Status.FAILED])
def test_terminal_datasets_are_untouched(world: World, status: Status) -> None:
    dataset_id = world.processing(T0, attempts=1)
    meta = world.meta(dataset_id)
    world.write(meta.ready(T0) if status is Status.READY else meta.failed("EMPTY_FILE", "empty", T0))
    world.clock.at = T0 + VISIBILITY * 10
    calls = len(world.metas.calls)
    report = world.reconciler().run()
    assert (report.read, report.reconciled) == (1, 0)
    assert not [c for c in world.metas.calls[calls:] if c.startswith("replace")]
    assert world.events.published == []
    assert world.queue.sent == []


class RacingMetas(InMemoryMetas):
    """Lets a worker write right after the reconciler's conditional update read the meta."""

    racer: tuple[DatasetId, Meta] | None = None
    loads_before_race = 1  # the reconciler's first read decides; update_meta's read races

    def load(self, dataset_id: DatasetId) -> Versioned | None:
        found = super().load(dataset_id)
        if self.racer is not None and self.racer[0] == dataset_id:
            if self.loads_before_race:
                self.loads_before_race -= 1
                return found
            (_, worker_write), self.racer = self.racer, None
            self.replace(worker_write, self.stored[dataset_id][1])
        return found


@pytest.mark.parametrize("worker", ["finishes", "reclaims"])
def test_a_worker_that_writes_first_is_never_overwritten(worker: str) -> None:
    clock = Clock()
    metas = RacingMetas(clock=clock)
    world = World(clock, metas, RecordingQueue(), RecordingPublisher())
    dataset_id = world.processing(T0, attempts=MAX_RECEIVES)
    world.clock.at = T0 + VISIBILITY * 2
    stale = world.meta(dataset_id)
    winner = stale.ready(world.clock.at) if worker == "finishes" else stale.reclaim(world.clock.at)
    metas.racer = (dataset_id, winner)

    report = world.reconciler().run()
    assert report.abandoned == ()
    assert world.metas.calls.count(f"replace {dataset_id}") == 3  # claim, the worker, the lost one
    assert world.meta(dataset_id) == winner
    assert world.events.published == []


def test_work_per_run_is_bounded_and_the_next_run_continues(world: World) -> None:
    ids = sorted(world.uploaded(T0) for _ in range(5))
    world.clock.at = T0 + STALE
    first = world.reconciler(max_examined=2).run()
    assert (first.examined, first.requeued, first.resume_after) == (2, tuple(ids[:2]), ids[1])
    second = world.reconciler(max_examined=2).run(start_after=first.resume_after)
    assert second.requeued == tuple(ids[2:4])
    third = world.reconciler(max_examined=2).run(start_after=second.resume_after)
    # The walk wraps round: the last key, then the first again.
    assert third.requeued == (ids[4], ids[0])


def test_one_run_from_anywhere_visits_every_meta_once(world: World) -> None:
    ids = sorted(world.uploaded(T0) for _ in range(4))
    world.clock.at = T0 + STALE
    report = world.reconciler().run(start_after=ids[1])
    assert sorted(report.requeued) == ids
    assert len(world.queue.sent) == 4
    assert report.resume_after is None


def test_metas_beyond_the_horizon_are_not_read(world: World) -> None:
    dataset_id = world.uploaded(T0)
    world.clock.at = T0 + timedelta(days=2)
    report = world.reconciler(horizon=timedelta(days=1)).run()
    assert (report.examined, report.read) == (1, 0)
    assert f"load {dataset_id}" not in world.metas.calls


def test_one_failing_dataset_does_not_stop_the_sweep(world: World) -> None:
    ids = sorted(world.uploaded(T0) for _ in range(3))
    world.clock.at = T0 + STALE

    class FlakyQueue(RecordingQueue):
        def send(self, route: Route, message: DatasetMessage) -> None:
            if message.dataset_id == ids[1]:
                raise ConnectionError("SQS is unreachable")
            super().send(route, message)

    report = world.reconciler(queue=FlakyQueue()).run()
    assert report.errors == (ids[1],)
    assert report.requeued == (ids[0], ids[2])


DLQ_RETENTION = timedelta(days=14)


def test_a_parked_dataset_waits_for_a_redrive_as_long_as_the_dlq_holds_its_message(world: World) -> None:
    # Given a dataset whose last receive failed unexpectedly: PROCESSING, its message in the DLQ
    dataset_id = world.processing(T0, MAX_RECEIVES)
    world.write(world.meta(dataset_id).park(T0))
    reconciler = world.reconciler(dlq_retention=DLQ_RETENTION)
    assert reconciler.lease_end(world.meta(dataset_id)) == T0 + DLQ_RETENTION
    # Long past the ordinary lease (one visibility timeout), and past the 24 h horizon, it is left alone
    for elapsed in (VISIBILITY * 2, timedelta(days=2), DLQ_RETENTION - timedelta(seconds=1)):
        world.clock.at = T0 + elapsed
        assert reconciler.run().abandoned == ()
    # Once the DLQ can no longer hold the message, nothing can finish it: FAILED LEASE_EXPIRED
    world.clock.at = T0 + DLQ_RETENTION + timedelta(minutes=5)
    assert reconciler.run().abandoned == (dataset_id,)
    meta = world.meta(dataset_id)
    assert (meta.status, meta.error.code if meta.error else None) == (Status.FAILED, "LEASE_EXPIRED")
    assert meta.error is not None
    assert "DLQ" in meta.error.message
    assert [e.detail_type for e in world.events.published] == [DATASET_PROFILING_FAILED]
    assert_valid("meta", meta.to_dict())


def test_metas_between_the_horizon_and_the_dlq_retention_are_not_read(world: World) -> None:
    dataset_id = world.processing(T0, 1)
    world.clock.at = T0 + timedelta(days=3)
    report = world.reconciler(dlq_retention=DLQ_RETENTION).run()
    assert (report.examined, report.read) == (1, 0)
    assert f"load {dataset_id}" not in world.metas.calls
