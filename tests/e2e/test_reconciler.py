"""No dataset left behind: the reconciler, on its local schedule, repairs what nothing else would.

A stack of its own: the reconciler sweeps the whole bucket, and the session stack holds
other tests' datasets in states they set up on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csvprof.adapters.s3 import S3ArtifactStore, S3MetaRepository
from csvprof.contracts import keys
from csvprof.contracts.events import DATASET_PROFILING_FAILED
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Meta
from csvprof.handlers import api, reconciler, worker
from csvprof.limits import SQS_MAX_RECEIVE_COUNT
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from tests.conftest import EXAMPLES
from tests.support.contracts import assert_valid
from tests.support.http import wait_for

INTERVAL_S = 0.5


@pytest.fixture(scope="module")
def own_stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(visibility_timeout_s=2) as started:
        yield started


@pytest.fixture(scope="module")
def running(own_stack: EmbeddedStack) -> Iterator[LocalRuntime]:
    settings, session = own_stack.settings, own_stack.session
    # Scaled down: UPLOADED is stale after 1 s (600 s deployed), leases count 2 s visibility.
    reconciler_settings = replace(settings, stale_uploaded_after_s=1.0)
    with LocalRuntime(
        own_stack,
        api.make_handler(settings, session),
        worker.make_handler(settings, session),
        reconciler_handler=reconciler.make_handler(reconciler_settings, session),
        reconcile_interval_s=INTERVAL_S,
    ) as runtime:
        yield runtime


def metas(stack: EmbeddedStack) -> S3MetaRepository:
    return S3MetaRepository(stack.s3(), stack.settings.bucket)


def stored_meta(stack: EmbeddedStack, dataset_id: DatasetId) -> dict[str, Any]:
    body = stack.s3().get_object(Bucket=stack.settings.bucket, Key=keys.meta_key(dataset_id))["Body"]
    meta: dict[str, Any] = json.loads(body.read())
    return meta


def terminal(stack: EmbeddedStack, dataset_id: DatasetId) -> dict[str, Any] | None:
    meta = stored_meta(stack, dataset_id)
    return meta if meta["status"] in ("READY", "FAILED") else None


def runs_after(runtime: LocalRuntime, count: int) -> None:
    """Wait until the schedule has invoked the reconciler `count` more times."""
    schedule = runtime.schedule
    assert schedule is not None
    target = schedule.stats.invocations + count
    wait_for(lambda: schedule.stats.invocations >= target, 10 * count * INTERVAL_S + 5, 0.05, what="runs")


def test_a_dataset_whose_send_failed_ends_ready(own_stack: EmbeddedStack, running: LocalRuntime) -> None:
    # What POST /datasets leaves when SQS refuses the send: the source and meta UPLOADED, no message.
    dataset_id = keys.new_dataset_id()
    body = (EXAMPLES / "orders.csv").read_bytes()
    S3ArtifactStore(own_stack.s3(), own_stack.settings.bucket).put_source(dataset_id, body, "orders.csv")
    meta = Meta.new(
        dataset_id, name="orders.csv", route="green", source_bytes=len(body), now=datetime.now(UTC)
    )
    metas(own_stack).create(meta)

    final = wait_for(lambda: terminal(own_stack, dataset_id), 30, 0.1, what=f"{dataset_id} terminal")
    assert final["status"] == "READY", final
    assert_valid("meta", final)
    # Delivered on its own route (the poller counts an invocation once the handler returned).
    green = running.pollers["green"].stats
    wait_for(lambda: green.invocations >= 1, 10, 0.05, what="a green delivery")


def test_a_dataset_left_processing_by_a_dead_last_receive_ends_failed(
    own_stack: EmbeddedStack, running: LocalRuntime
) -> None:
    # A worker claimed it on the last receive and was killed: no message is left anywhere.
    dataset_id = keys.new_dataset_id()
    claimed_at = datetime.now(UTC) - timedelta(hours=1)
    meta = Meta.new(dataset_id, name="lost.csv", route="blue", source_bytes=10, now=claimed_at)
    claimed = replace(meta.start(claimed_at), attempts=SQS_MAX_RECEIVE_COUNT)
    repo = metas(own_stack)
    repo.replace(claimed, repo.create(meta))

    final = wait_for(lambda: terminal(own_stack, dataset_id), 30, 0.1, what=f"{dataset_id} terminal")
    assert final["status"] == "FAILED", final
    assert final["error"]["code"] == "LEASE_EXPIRED"
    assert final["completed_at"] is not None
    assert final["attempts"] == SQS_MAX_RECEIVE_COUNT
    assert_valid("meta", final)

    seen: list[dict[str, Any]] = []

    def failed_events() -> list[dict[str, Any]]:
        seen.extend(e for e in own_stack.receive_events(wait_s=1) if e["detail"]["dataset_id"] == dataset_id)
        return seen

    (event,) = wait_for(failed_events, 20, 0.1, what=f"the event of {dataset_id}")
    # Later runs find it terminal: still exactly one event.
    runs_after(running, 3)
    failed_events()
    assert len(seen) == 1, seen
    assert event["detail-type"] == DATASET_PROFILING_FAILED
    assert_valid("event-dataset-profiling-failed", event["detail"])
    assert event["detail"]["error"]["code"] == "LEASE_EXPIRED"
    assert event["detail"]["completed_at"] == final["completed_at"]
