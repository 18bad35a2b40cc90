"""Contract-layer fixtures: a pipeline of real handlers on its own embedded stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from csvprof.local.stack import EmbeddedStack
from tests.support.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    # Its own stack and no pollers: the test decides when the worker runs.
    with EmbeddedStack() as stack:
        yield Pipeline.on(stack)
