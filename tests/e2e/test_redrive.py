"""A broken release loses no dataset: its datasets wait in the DLQ, and `csvprof redrive` finishes them.

The worker's engine fails unexpectedly on every receive (a bug, not the file's fault): the
dataset is retried, parked PROCESSING on the last receive and its message dead-lettered, with no
terminal event. After the "fix" (the engine swapped back), `csvprof redrive` moves the message to
the other colour's queue, and the dataset ends READY with exactly one terminal event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import pytest

from csvprof import cli
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.profile import Profile
from csvprof.domain.ports import Budget
from csvprof.handlers import api, worker
from csvprof.limits import SQS_MAX_RECEIVE_COUNT
from csvprof.local.runtime import LocalRuntime, patched_environ
from csvprof.local.stack import EmbeddedStack
from csvprof.profiler import ArrowProfileEngine
from tests.support.contracts import assert_valid
from tests.support.http import HttpApi, wait_for


@dataclass
class ReleasedEngine:
    """The engine of the deployed release: broken until the fix is deployed."""

    fixed: ArrowProfileEngine
    broken: bool = True

    def profile(
        self, source: BinaryIO, *, size: int | None, budget: Budget, dataset_id: DatasetId | None = None
    ) -> Profile:
        if self.broken:
            raise KeyError("a bug in this release")
        return self.fixed.profile(source, size=size, budget=budget, dataset_id=dataset_id)


@pytest.fixture
def broken_release() -> Iterator[tuple[EmbeddedStack, LocalRuntime, ReleasedEngine]]:
    # 1 s visibility and no retry delay: three receives and the DLQ within seconds.
    with EmbeddedStack(visibility_timeout_s=1) as stack:
        settings = replace(stack.settings, retry_base_delay_s=0)
        engine = ReleasedEngine(ArrowProfileEngine(workers=1))
        use_case = replace(worker.build_worker(settings, stack.session), engine=engine)
        handlers = (
            api.make_handler(settings, stack.session),
            worker.make_handler(settings, stack.session, worker=use_case),
        )
        with LocalRuntime(stack, *handlers) as running:
            yield stack, running, engine


def dlq_depth(stack: EmbeddedStack) -> int:
    attributes = stack.sqs().get_queue_attributes(
        QueueUrl=stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def terminal_events(stack: EmbeddedStack, dataset_id: str, seen: list[dict[str, Any]]) -> list[str]:
    seen.extend(stack.receive_events(wait_s=1))
    return [e["detail-type"] for e in seen if e["detail"]["dataset_id"] == dataset_id]


def redrive(stack: EmbeddedStack, *options: str) -> int:
    urls = stack.work_queue_urls
    argv = ["redrive", "--dlq-url", stack.dlq_url, "--blue-url", urls["blue"], "--green-url", urls["green"]]
    argv += ["--endpoint-url", stack.endpoint_url, "--region", stack.region, *options]
    with patched_environ(stack.lambda_environment(), remove=EmbeddedStack.PROFILE_VARIABLES):
        return cli.main(argv)


def test_a_broken_release_parks_its_dataset_in_the_dlq_and_redrive_finishes_it(
    broken_release: tuple[EmbeddedStack, LocalRuntime, ReleasedEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, running, engine = broken_release
    http = HttpApi(running.api_url)
    dataset_id = http.upload(b"id,amount\n1,9.5\n2,3.25\n").json()["dataset_id"]

    # Every receive fails: the message ends in the DLQ, the dataset PROCESSING and parked, not FAILED.
    wait_for(lambda: dlq_depth(stack) == 1, 30, what="the message in the DLQ")
    parked = http.call("GET", f"/datasets/{dataset_id}").json()
    assert_valid("meta", parked)
    assert (parked["status"], parked["error"]) == ("PROCESSING", None)
    assert parked["dead_lettered_at"] is not None
    assert parked["attempts"] == SQS_MAX_RECEIVE_COUNT
    assert {c["route"] for c in parked["claims"]} == {"blue"}
    assert running.pollers["blue"].stats.failed == SQS_MAX_RECEIVE_COUNT
    seen: list[dict[str, Any]] = []
    assert terminal_events(stack, dataset_id, seen) == []

    # A dry run only counts.
    assert redrive(stack, "--to", "green", "--dry-run") == cli.EXIT_OK
    assert "1 message(s) waiting" in capsys.readouterr().out
    assert dlq_depth(stack) == 1

    # The fix is deployed; the DLQ is redriven to green.
    engine.broken = False
    assert redrive(stack, "--to", "green") == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "moved 1 to green" in out or "moving them all to green" in out, out

    final = http.wait_terminal(dataset_id, timeout_s=30)
    assert_valid("meta", final)
    assert (final["status"], final["dead_lettered_at"]) == ("READY", None)
    assert final["claims"][-1]["route"] == "green"
    assert final["attempts"] == SQS_MAX_RECEIVE_COUNT + 1
    wait_for(lambda: terminal_events(stack, dataset_id, seen), 10, what="the terminal event")
    terminal_events(stack, dataset_id, seen)  # and nothing more after it
    assert terminal_events(stack, dataset_id, seen) == ["Dataset Profiled"]
    assert dlq_depth(stack) == 0


def test_redrive_errors_are_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["redrive", "--dlq-url", "http://127.0.0.1:9/q", "--to", "blue"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--blue-url" in err
