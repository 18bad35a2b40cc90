"""CSV profiling engine: `ArrowProfileEngine().profile(stream, size=..., budget=...)` gives a `Profile`.

A process that profiles calls `tune_process()` once first (see system.py).
"""

from __future__ import annotations

from csvprof.profiler.assemble import ENGINE_VERSION
from csvprof.profiler.engine import ArrowProfileEngine
from csvprof.profiler.system import default_budget, peak_rss_mb, rss_mb, tune_process

__all__ = [
    "ENGINE_VERSION",
    "ArrowProfileEngine",
    "default_budget",
    "peak_rss_mb",
    "rss_mb",
    "tune_process",
]
