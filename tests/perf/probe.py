"""One profiling run in a fresh interpreter: `python -m tests.perf.probe {csvprof|duckdb} PATH`.

Run from the repository root. Prints {"tool", "seconds", "peak_rss_mb", "rows"} (or "error")
as JSON, measured in this process only, so the test runner's memory is not mixed in. Peak
memory is the larger of this process's VmHWM and the process tree's memory sampled every
100 ms (csvprof folds in forked workers: their private pages plus this process's RSS, which
is what a Lambda function's memory limit counts); the perf tests replace the sampling with
a memory cgroup's peak where they can (tests/perf/cgroup.py). Imports and
`csvprof.profiler.tune_process()` (the allocator settings every profiling process makes
once) happen before the clock starts.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from csvprof.errors import ProfilingError
from csvprof.profiler import ArrowProfileEngine, default_budget, peak_rss_mb, rss_mb, tune_process
from csvprof.profiler.system import child_pids

# Each sample walks the workers' page tables: every 50 ms cost 5-9 % of a 1 GB run. The perf
# tests set SAMPLE_ENV to 0 when the run has a memory cgroup of its own (tests/perf/cgroup.py).
SAMPLE_ENV = "CSVPROF_PROBE_SAMPLE_S"
SAMPLE_S = float(os.environ.get(SAMPLE_ENV, "0.1"))


class TreeMemory:
    """Samples this process's RSS plus its children's private memory in a thread, keeping the peak."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        if SAMPLE_S > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.peak_mb = max(self.peak_mb, rss_mb(child_pids()))


def run_csvprof(path: Path) -> dict[str, Any]:
    tune_process()  # as the worker Lambda and the CLI do when they start; before the clock
    started = time.perf_counter()
    try:
        with path.open("rb") as f:
            profile = (
                ArrowProfileEngine().profile(f, size=path.stat().st_size, budget=default_budget()).to_dict()
            )
    except ProfilingError as exc:
        return {"error": exc.code, "seconds": time.perf_counter() - started}
    return {"seconds": time.perf_counter() - started, "rows": profile["dataset"]["rows"]}


def run_duckdb(path: Path) -> dict[str, Any]:
    import duckdb  # test dependency: the comparison baseline

    with duckdb.connect() as con:
        started = time.perf_counter()
        summary = con.execute("SUMMARIZE SELECT * FROM read_csv(?)", [str(path)]).fetchall()
        seconds = time.perf_counter() - started
    # SUMMARIZE columns: name, type, min, max, approx_unique, avg, std, q25, q50, q75, count, null%
    return {"seconds": seconds, "rows": int(summary[0][10])}


def main(argv: list[str]) -> dict[str, Any]:
    tool, path = argv[0], Path(argv[1])
    runners = {"csvprof": run_csvprof, "duckdb": run_duckdb}
    if tool not in runners:
        raise SystemExit(f"unknown tool {tool!r}; expected one of {sorted(runners)}")
    with TreeMemory() as tree:
        result = runners[tool](path)
    return {
        "tool": tool,
        **result,
        "peak_rss_mb": max(peak_rss_mb(), tree.peak_mb),
        "rss_file_mb": rss_file_mb(),
    }


def rss_file_mb() -> float:
    """This process's file-backed resident pages (shared libraries), from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
