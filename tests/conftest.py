"""Fixtures shared by the layers: the embedded stack (moto server), the local runtime.

Realistic AWS events are loaded with `tests.support.events.load_event`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from csvprof.handlers import api, worker
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from tests.support.http import HttpApi

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack() as started:
        yield started


@pytest.fixture(scope="session")
def runtime(stack: EmbeddedStack) -> Iterator[LocalRuntime]:
    api_handler = api.make_handler(stack.settings, stack.session)
    worker_handler = worker.make_handler(stack.settings, stack.session)
    with LocalRuntime(stack, api_handler, worker_handler) as running:
        yield running


@pytest.fixture(scope="session")
def http(runtime: LocalRuntime) -> HttpApi:
    return HttpApi(runtime.api_url)


@pytest.fixture(scope="session")
def orders_csv() -> bytes:
    return (EXAMPLES / "orders.csv").read_bytes()
