"""Two worker versions side by side: each colour's poller invokes its alias's version, and
`point()` repoints a colour at runtime as UpdateAlias does; the claims in meta say which ran."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from csvprof.handlers import api, worker
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from csvprof.profiler import ArrowProfileEngine
from tests.support.http import HttpApi

CSV = b"id,amount\n1,9.5\n2,3.25\n"
Handler = Callable[[dict[str, Any], Any], Any]


class Release:
    """Builds worker versions that note the invoked ARN of every invocation."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.invoked: list[tuple[str, str]] = []  # (invoked ARN, function_version)

    def version(self) -> Handler:
        settings = self.stack.settings
        use_case = replace(
            worker.build_worker(settings, self.stack.session), engine=ArrowProfileEngine(workers=1)
        )
        handler = worker.make_handler(settings, self.stack.session, worker=use_case)

        def invoke(event: dict[str, Any], context: Any) -> Any:
            self.invoked.append((context.invoked_function_arn, context.function_version))
            return handler(event, context)

        return invoke


@pytest.fixture
def two_versions() -> Iterator[tuple[LocalRuntime, Release]]:
    with EmbeddedStack(green_weight=50) as stack:
        release = Release(stack)
        with LocalRuntime(
            stack,
            api.make_handler(stack.settings, stack.session),
            worker_handlers={"blue": release.version(), "green": release.version()},
            worker_versions={"blue": "1", "green": "2"},
        ) as running:
            yield running, release


def claims(http: HttpApi, expected: set[tuple[str, str]], limit: int = 48) -> set[tuple[str, str]]:
    """(route, version) of the claims of new datasets, each profiled READY, until they make `expected`.

    Routing is by a hash of a random id: at weight 50 a fixed dozen missed a colour about once in
    2,000 runs (it did in CI); uploading until both are seen, up to `limit`, misses once in 2^47.
    Any (route, version) outside `expected` ends the loop, and the caller's equality fails.
    """
    found: set[tuple[str, str]] = set()
    for _ in range(limit):
        dataset_id = http.upload(CSV).json()["dataset_id"]
        meta = http.wait_terminal(dataset_id, timeout_s=30)
        assert meta["status"] == "READY", meta.get("error")
        found |= {(claim["route"], claim["version"]) for claim in meta["claims"]}
        if found == expected or not found <= expected:
            break
    return found


def test_each_colour_runs_its_own_version_and_point_repoints_one(
    two_versions: tuple[LocalRuntime, Release],
) -> None:
    running, release = two_versions
    http = HttpApi(running.api_url)
    # At weight 50 both colours get some.
    assert claims(http, {("blue", "1"), ("green", "2")}) == {("blue", "1"), ("green", "2")}
    assert {arn.rsplit(":", 1)[-1] for arn, _ in release.invoked} == {"blue", "green"}
    assert all(
        version == {"blue": "1", "green": "2"}[arn.rsplit(":", 1)[-1]] for arn, version in release.invoked
    )

    # UpdateAlias green -> version 3: later deliveries on green run it; blue is untouched.
    running.point("green", release.version(), "3")
    assert (running.worker_version("blue"), running.worker_version("green")) == ("1", "3")
    assert claims(http, {("blue", "1"), ("green", "3")}) == {("blue", "1"), ("green", "3")}


def test_one_worker_handler_still_serves_both_queues() -> None:
    with EmbeddedStack(green_weight=50) as stack:
        release = Release(stack)
        handlers = (api.make_handler(stack.settings, stack.session), release.version())
        with LocalRuntime(stack, *handlers) as running:
            expected = {("blue", "$LATEST"), ("green", "$LATEST")}
            found = claims(HttpApi(running.api_url), expected)
    assert found == expected
