"""One profiling run in a fresh interpreter: `python -m tests.perf.probe {csvprof|duckdb} PATH`.

Run from the repository root. Prints {"tool", "seconds", "peak_rss_mb", "rows"} (or "error")
as JSON; peak RSS is this process's VmHWM, so the test runner's memory is not mixed in.
Imports happen before the clock starts, for both tools.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from csvprof.errors import ProfilingError
from csvprof.profiler import ArrowProfileEngine, default_budget, peak_rss_mb


def run_csvprof(path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with path.open("rb") as f:
            profile = ArrowProfileEngine().profile(f, size=path.stat().st_size, budget=default_budget())
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
    result = runners[tool](path)
    return {"tool": tool, **result, "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
