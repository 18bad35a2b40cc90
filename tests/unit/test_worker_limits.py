"""Every runtime limit through the real worker handler: an SQS event in, meta FAILED and one event out.

The limits are scaled down in `Settings` (as a deployment would set them, only smaller); the
engine, the handler's budget (Lambda's remaining time, this process tree's memory) and the
delivery policy are the real ones, on in-memory ports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from csvprof.config import Settings
from csvprof.contracts.events import DATASET_PROFILED, DATASET_PROFILING_FAILED
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Meta, Status
from csvprof.domain.processing import Worker
from csvprof.handlers.worker import make_handler
from csvprof.limits import WORKER_STOP_REMAINING_S, ProfileLimits
from csvprof.local.context import LambdaContext, new_context
from csvprof.profiler import ArrowProfileEngine, rss_mb
from tests.support.contracts import assert_valid, error_registry
from tests.support.events import load_event
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingPublisher

ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")  # the dataset of tests/events/sqs_*.json
SMALL = b"id,name,score\n1,a,2.5\n2,b,3.5\n3,c,4.5\n"


@dataclass
class Clock:
    """A Lambda context whose remaining time the test sets, reading by reading."""

    remaining_ms: list[int]
    readings: int = 0
    real: LambdaContext = field(
        default_factory=lambda: new_context(
            "csvprof-worker", memory_mb=2048, timeout_s=900, region="us-east-1"
        )
    )

    def get_remaining_time_in_millis(self) -> int:
        self.readings += 1
        return self.remaining_ms[min(self.readings, len(self.remaining_ms)) - 1]

    def __getattr__(self, name: str) -> Any:  # every other attribute of the real context
        return getattr(self.real, name)


@dataclass
class Run:
    answer: dict[str, Any]
    meta: Meta
    artifacts: InMemoryArtifacts
    events: RecordingPublisher


def deliver(source: bytes, limits: ProfileLimits, context: Any = None) -> Run:
    """Given dataset ID UPLOADED with `source`, when the worker handler gets its first delivery."""
    metas, artifacts, events = InMemoryMetas(), InMemoryArtifacts(), RecordingPublisher()
    metas.create(Meta.new(ID, name="data.csv", route="blue", source_bytes=len(source), now=datetime.now(UTC)))
    artifacts.put_source(ID, source, "data.csv")
    artifacts.calls.clear()
    settings = Settings(
        bucket="b", blue_queue_url="q1", green_queue_url="q2", event_bus_name="bus", limits=limits
    )
    worker = Worker(metas, artifacts, events, ArrowProfileEngine(), now=lambda: datetime.now(UTC))
    if context is None:
        context = new_context("csvprof-worker", memory_mb=2048, timeout_s=900, region="us-east-1")
    answer = make_handler(settings, worker=worker)(load_event("sqs_first_delivery"), context)
    return Run(answer, metas.stored[ID][0], artifacts, events)


def assert_failed(run: Run, code: str, capsys: pytest.CaptureFixture[str]) -> None:
    """FAILED with `code`, completed, announced exactly once; a terminal outcome, not a retry."""
    assert error_registry()[code]["component"].startswith("worker")
    assert run.answer == {"batchItemFailures": []}
    meta = run.meta
    assert meta.status is Status.FAILED
    assert meta.error is not None
    assert meta.error.code == code
    assert meta.error.message
    assert meta.completed_at is not None
    assert meta.profile_key is None
    assert_valid("meta", meta.to_dict())
    assert [e.detail_type for e in run.events.published] == [DATASET_PROFILING_FAILED]
    detail = run.events.published[0].detail
    assert_valid("event-dataset-profiling-failed", detail)
    assert (detail["dataset_id"], detail["error"]["code"]) == (ID, code)
    assert detail["completed_at"] == meta.completed_at
    assert not [c for c in run.artifacts.calls if c.startswith("put_profile")]
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("ProfilesFailed" in blob for blob in emf)


def test_too_many_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert_failed(deliver(SMALL, ProfileLimits(max_columns=2)), "TOO_MANY_COLUMNS", capsys)


def test_field_too_large(capsys: pytest.CaptureFixture[str]) -> None:
    source = b"id,note\n1,short\n2," + b"x" * 500 + b"\n"
    assert_failed(deliver(source, ProfileLimits(max_field_bytes=100)), "FIELD_TOO_LARGE", capsys)


def test_file_too_large(capsys: pytest.CaptureFixture[str]) -> None:
    run = deliver(SMALL, ProfileLimits(max_source_bytes=len(SMALL) - 1))
    assert_failed(run, "FILE_TOO_LARGE", capsys)
    assert run.meta.error is not None
    assert str(len(SMALL)) in run.meta.error.message


def test_memory_limit_below_this_process_memory(capsys: pytest.CaptureFixture[str]) -> None:
    # The handler's budget reads the real memory of this process tree: any budget under it fails.
    budget_mb = int(rss_mb(())) // 2
    assert budget_mb >= 1
    run = deliver(SMALL, ProfileLimits(memory_budget_mb=budget_mb))
    assert_failed(run, "MEMORY_LIMIT_EXCEEDED", capsys)
    assert run.meta.error is not None
    assert f"exceeds {budget_mb} MB" in run.meta.error.message


def test_time_limit_from_a_real_context_near_its_deadline(capsys: pytest.CaptureFixture[str]) -> None:
    # An invocation with less time left than the engine must keep for writing FAILED.
    context = new_context(
        "csvprof-worker", memory_mb=2048, timeout_s=WORKER_STOP_REMAINING_S - 1, region="us-east-1"
    )
    assert_failed(deliver(SMALL, ProfileLimits(), context), "TIME_LIMIT_EXCEEDED", capsys)


def test_time_limit_follows_the_contexts_remaining_time_while_profiling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Scaled down: stop with less than 5 s left. The context has 6 s at the start, then 4 s:
    # the engine passes its first check and stops at the next one, so it reads the context
    # again during the profile instead of once at the start.
    context = Clock([6_000, 4_000])
    assert_failed(deliver(SMALL, ProfileLimits(stop_remaining_s=5), context), "TIME_LIMIT_EXCEEDED", capsys)
    assert context.readings >= 2


@pytest.mark.parametrize("remaining_ms", [5_001, 900_000])
def test_enough_remaining_time_is_ready(remaining_ms: int) -> None:
    context = Clock([remaining_ms])
    run = deliver(SMALL, ProfileLimits(stop_remaining_s=5), context)
    assert run.meta.status is Status.READY
    assert [e.detail_type for e in run.events.published] == [DATASET_PROFILED]
    assert context.readings >= 2  # the engine's checks read the context, not a copy taken once
