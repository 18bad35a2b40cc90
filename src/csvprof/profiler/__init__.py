"""CSV profiling engine: `ArrowProfileEngine().profile(stream, size=..., budget=...)` gives a `Profile`.

A process that profiles calls `tune_process()` once first (see system.py).
"""

from __future__ import annotations

from csvprof.profiler.engine import ENGINE_VERSION, ArrowProfileEngine
from csvprof.profiler.system import default_budget, peak_rss_mb, rss_mb, tune_process

__all__ = [
    "ENGINE_VERSION",
    "ArrowProfileEngine",
    "default_budget",
    "peak_rss_mb",
    "rss_mb",
    "tune_process",
]
