"""One profiling run in a fresh interpreter:
`python -m tests.perf.probe {csvprof|duckdb|polars} PATH [--workers N] [--ragged]`.

Run from the repository root. Prints {"tool", "seconds", "peak_rss_mb", "rows"} (or "error" for
a csvprof ProfilingError, "na" for a file DuckDB or Polars cannot read) as JSON, measured in this
process only, so the test runner's memory is not mixed in.

* csvprof: `ArrowProfileEngine(workers=N).profile(...)`; it also reports the workers the engine
  chose (by default its own choice, `available_cpus()`) and the CPU quota it saw.
* DuckDB: `SUMMARIZE SELECT * FROM read_csv(PATH)` (`--ragged`: with `null_padding`).
* Polars: `pl.read_csv(PATH).describe()`, eager, with Polars' defaults.

Each tool imports only its own library, so one tool's shared libraries do not count in
another's peak. Imports and `csvprof.profiler.tune_process()` (the allocator settings every
profiling process makes once) happen before the clock starts.

Peak memory is the larger of this process's VmHWM and, for csvprof (which folds in forked
workers), the process tree's memory sampled every 100 ms: its private pages plus this
process's RSS, which is what a Lambda function's memory limit counts. The perf tests replace
the sampling with a memory cgroup's peak where they can (tests/perf/cgroup.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Each sample walks the workers' page tables: every 50 ms cost 5-9 % of a 1 GB run. The perf
# tests set SAMPLE_ENV to 0 when the run has a memory cgroup of its own (tests/perf/cgroup.py).
SAMPLE_ENV = "CSVPROF_PROBE_SAMPLE_S"
SAMPLE_S = float(os.environ.get(SAMPLE_ENV, "0.1"))


class PeakSampler:
    """Calls `measure()` (MB) every `interval_s` in a thread, keeping the peak; interval 0: no sampling."""

    def __init__(self, measure: Callable[[], float], interval_s: float) -> None:
        self.peak_mb = 0.0
        self._measure, self._interval_s = measure, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        if self._interval_s > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.peak_mb = max(self.peak_mb, self._measure())


def tree_memory() -> PeakSampler:
    """This process's RSS plus its children's private memory, every SAMPLE_S."""
    from csvprof.profiler.system import child_pids, rss_mb

    return PeakSampler(lambda: rss_mb(child_pids()), SAMPLE_S)


def run_csvprof(path: Path, workers: int | None, ragged: bool) -> dict[str, Any]:
    from csvprof.errors import ProfilingError
    from csvprof.profiler import ArrowProfileEngine, default_budget, tune_process
    from csvprof.profiler.engine import available_cpus, cpu_quota

    tune_process()  # as the worker Lambda and the CLI do when they start; before the clock
    engine = ArrowProfileEngine(workers=workers)
    seen = {"workers": engine.workers, "available_cpus": available_cpus(), "cpu_quota": cpu_quota()}
    with tree_memory() as tree:
        started = time.perf_counter()
        try:
            with path.open("rb") as f:
                profile = engine.profile(f, size=path.stat().st_size, budget=default_budget()).to_dict()
        except ProfilingError as exc:
            return {"error": exc.code, "seconds": time.perf_counter() - started, **seen}
        seconds = time.perf_counter() - started
    dataset = profile["dataset"]
    return {
        "seconds": seconds,
        "rows": dataset["rows"],
        "ragged_rows": dataset["ragged_rows"],
        "tree_sampled_mb": tree.peak_mb,
        **seen,
    }


def run_duckdb(path: Path, workers: int | None, ragged: bool) -> dict[str, Any]:
    import duckdb  # test dependency: the comparison baseline

    # Ragged rows make DuckDB's sniffer read the file as one text column; null_padding reads its
    # columns (and cannot be combined with quoted newlines in the parallel reader, so only then).
    options = ", null_padding = true" if ragged else ""
    with duckdb.connect() as con:
        started = time.perf_counter()
        try:
            query = f"SUMMARIZE SELECT * FROM read_csv(?{options})"  # noqa: S608 (a constant option)
            summary = con.execute(query, [str(path)]).fetchall()
        except duckdb.Error as exc:
            return {"na": _first_line(exc)}
        seconds = time.perf_counter() - started
    # SUMMARIZE columns: name, type, min, max, approx_unique, avg, std, q25, q50, q75, count, null%
    return {"seconds": seconds, "rows": int(summary[0][10])}


def run_polars(path: Path, workers: int | None, ragged: bool) -> dict[str, Any]:
    import polars as pl  # perf dependency: the second baseline, eager (the file must fit in memory)

    started = time.perf_counter()
    try:
        frame = pl.read_csv(path)
        frame.describe()
    except pl.exceptions.PolarsError as exc:
        return {"na": _first_line(exc)}
    return {"seconds": time.perf_counter() - started, "rows": frame.height}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:200]


RUNNERS: dict[str, Callable[[Path, int | None, bool], dict[str, Any]]] = {
    "csvprof": run_csvprof,
    "duckdb": run_duckdb,
    "polars": run_polars,
}


def status_mb(field: str) -> float:
    """A size field of /proc/self/status (VmHWM, RssFile), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.probe")
    parser.add_argument("tool", choices=sorted(RUNNERS))
    parser.add_argument("path", type=Path)
    parser.add_argument("--workers", type=int, default=None, help="csvprof's worker count (default: its own)")
    parser.add_argument(
        "--ragged", action="store_true", help="DuckDB: the file has ragged rows (null_padding)"
    )
    args = parser.parse_args(argv)
    result = RUNNERS[args.tool](args.path, args.workers, args.ragged)
    sampled = result.pop("tree_sampled_mb", 0.0)
    return {
        "tool": args.tool,
        **result,
        "peak_rss_mb": max(status_mb("VmHWM"), sampled),
        # File-backed resident pages (shared libraries): the caller adds them to a cgroup's peak.
        "rss_file_mb": status_mb("RssFile"),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
