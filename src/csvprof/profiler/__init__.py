"""CSV profiling engine: `ArrowProfileEngine().profile(stream, size=..., budget=...)` -> profile.json."""

from __future__ import annotations

from csvprof.profiler.engine import ENGINE_VERSION, ArrowProfileEngine
from csvprof.profiler.system import default_budget, peak_rss_mb, rss_mb

__all__ = [
    "ENGINE_VERSION",
    "ArrowProfileEngine",
    "default_budget",
    "peak_rss_mb",
    "rss_mb",
]
