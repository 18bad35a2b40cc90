"""The reconciler handler on in-memory ports: a scheduled event in, one run, its summary out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csvprof.config import Settings
from csvprof.contracts.keys import new_dataset_id
from csvprof.contracts.meta import Meta
from csvprof.domain.reconcile import Reconciler
from csvprof.handlers.reconciler import make_handler
from csvprof.local.schedule import ScheduledInvoker, scheduled_event
from tests.support.fakes import InMemoryMetas, RecordingPublisher, RecordingQueue

SETTINGS = Settings("bucket", "blue-url", "green-url", "bus")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_scheduled_event_is_eventbridges() -> None:
    event = scheduled_event("csvprof-reconcile", region="eu-west-1", at=T0)
    assert (event["detail-type"], event["source"], event["detail"]) == ("Scheduled Event", "aws.events", {})
    assert event["time"] == "2025-01-01T00:00:00Z"
    assert event["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/csvprof-reconcile"]


def test_consecutive_runs_continue_where_the_last_one_stopped() -> None:
    metas = InMemoryMetas(clock=lambda: T0)
    ids = sorted(new_dataset_id() for _ in range(3))
    for dataset_id in ids:
        metas.create(Meta.new(dataset_id, name=None, route="blue", source_bytes=1, now=T0))
    queue = RecordingQueue()
    use_case = Reconciler(
        metas=metas,
        queue=queue,
        events=RecordingPublisher(),
        now=lambda: T0 + timedelta(hours=1),
        visibility_timeout=timedelta(seconds=60),
        max_receives=3,
        max_examined=2,
    )
    invoker = ScheduledInvoker(make_handler(SETTINGS, reconciler=use_case), interval_s=60)
    answers = [invoker.invoke_once() for _ in range(3)]
    assert all(a["examined"] == 2 for a in answers)
    requeued = [dataset_id for answer in answers for dataset_id in answer["requeued"]]
    # Three runs of two keys cover the three metas twice, whatever the random start.
    assert sorted(requeued) == sorted(ids * 2)
    assert invoker.stats.invocations == 3
    assert invoker.stats.errors == 0
