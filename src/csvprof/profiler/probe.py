"""Peak-memory probe for benchmarks: `python -m csvprof.profiler.probe {arrow|duckdb} PATH`.

Runs one profile in a fresh process and prints {"seconds", "peak_rss_mb", "rows"} as JSON, so the
caller reads this process's own peak RSS without the test runner's memory mixed in.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from csvprof.profiler.system import default_budget, peak_rss_mb


def run(tool: str, path: Path) -> dict[str, float]:
    started = time.perf_counter()
    if tool == "arrow":
        from csvprof.profiler.engine import ArrowProfileEngine

        with path.open("rb") as f:
            rows = ArrowProfileEngine().profile(f, size=path.stat().st_size, budget=default_budget())[
                "dataset"
            ]["rows"]
    elif tool == "duckdb":
        import duckdb  # test dependency: the comparison baseline

        with duckdb.connect() as con:
            summary = con.execute("SUMMARIZE SELECT * FROM read_csv(?)", [str(path)]).fetchall()
            rows = int(
                summary[0][10]
            )  # SUMMARIZE columns: name, type, min, max, approx_unique, avg, std, q25, q50, q75, count
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    return {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(), "rows": rows}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], Path(sys.argv[2]))))
