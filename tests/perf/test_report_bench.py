"""The HTML report's render time at the widest profile (2,000 columns), a benchmark, not a unit test."""

from __future__ import annotations

from typing import Any

import pytest

from csvprof.report import render
from tests.unit.test_report_html import two_thousand_columns

pytestmark = pytest.mark.perf
# A generous bound: the worker renders the page after profiling, and a
# render growing past this would be a visible share of a small file's time.
MAX_RENDER_S = 3.0


def test_render_of_two_thousand_columns(benchmark: Any) -> None:
    profile = two_thousand_columns()
    page = benchmark.pedantic(render, args=(profile,), rounds=3, iterations=1)
    best = benchmark.stats.stats.min
    print(f"\nreport of 2,000 columns: {len(page.encode()):,} bytes, best of 3 {best * 1000:.0f} ms")
    assert best < MAX_RENDER_S
