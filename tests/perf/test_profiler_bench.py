"""csvprof against DuckDB SUMMARIZE and Polars describe, per shape and size, in the same run.

The matrix (tests/perf/matrix.py: CSVPROF_PERF_SHAPES x CSVPROF_PERF_SIZES) runs every tool in a
fresh interpreter, alternating, CSVPROF_PERF_ROUNDS times, the first tool rotating each round;
the fastest run of each counts. Beside it, per shape and size: one Lambda-shaped csvprof run
(the worker function's CPU quota and memory limit), and one beside a CPU hog per core. The gates
(peak memory, a floor on the ratio to DuckDB) are checked on those numbers; each benchmark's
extra_info carries them into the saved run. pytest-benchmark's own timing is one whole round
(every tool, each with its interpreter start), which the numbers here do not include.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pytest

from csvprof.limits import WORKER_MEMORY_MB
from csvprof.profiler.engine import available_cpus
from tests.perf.cgroup import CPU_PERIOD_US, LAMBDA_CPUS, CgroupUnavailable, ProbeCgroup
from tests.perf.conftest import Files, GiB, cpu_hogs, probe, record, usable_cores
from tests.perf.matrix import (
    KNOWN_PEAK_EXCESS,
    MAX_PEAK_RSS_MB,
    MIN_RATIO,
    POLARS_MAX_BYTES,
    RAGGED_SHAPES,
    parse_size,
    perf_rounds,
    perf_shapes,
    perf_sizes,
)

pytestmark = pytest.mark.perf
ROUNDS = perf_rounds()
# pytest-timeout's 300 s is for a 100 MB file; larger files get a second more per MB.
CASES = [
    pytest.param(
        shape, size, id=f"{shape}-{size}", marks=pytest.mark.timeout(300 + parse_size(size) // 10**6)
    )
    for size in perf_sizes()
    for shape in perf_shapes()
]
TOOLS = ("csvprof", "duckdb", "polars")


def _numbers(runs: list[dict[str, Any]], mb: float) -> dict[str, Any]:
    """The fastest run's time and MB/s, the largest peak of all runs; or why the tool could not run."""
    done = [r for r in runs if "na" not in r and "error" not in r]
    if not done:
        failed = runs[0]
        return {"na": failed.get("na") or failed.get("error", "not run")}
    best = min(done, key=lambda r: r["seconds"])
    return {
        "seconds": round(best["seconds"], 3),
        "mb_per_s": round(mb / best["seconds"], 1),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in done), 1),
        "rows": best["rows"],
        **({"ragged_rows": best["ragged_rows"]} if "ragged_rows" in best else {}),
    }


@pytest.mark.parametrize(("shape", "size"), CASES)
def test_matrix_vs_duckdb_and_polars(benchmark: Any, generated: Files, shape: str, size: str) -> None:
    path = generated.get(shape, size)
    tools = [t for t in TOOLS if t != "polars" or path.stat().st_size <= POLARS_MAX_BYTES]
    runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in tools}
    turn = iter(range(ROUNDS))

    def one_round() -> None:
        first = next(turn) % len(tools)
        for tool in tools[first:] + tools[:first]:
            if runs[tool] and "na" in runs[tool][0]:
                continue  # a file a tool cannot read stays unreadable
            runs[tool].append(probe(tool, path, ragged=shape in RAGGED_SHAPES))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    mb = path.stat().st_size / 1e6
    numbers = {tool: _numbers(tool_runs, mb) for tool, tool_runs in runs.items()}
    if "polars" not in numbers:
        numbers["polars"] = {"na": f"not run: the file is over {POLARS_MAX_BYTES / 1e9:.0f} GB"}
    ours, duck = numbers["csvprof"], numbers["duckdb"]
    assert "na" not in ours, ours
    ratio = round(ours["mb_per_s"] / duck["mb_per_s"], 3) if "na" not in duck else None
    record(
        benchmark,
        "matrix",
        shape,
        size,
        {
            "bytes": path.stat().st_size,
            "rows": ours["rows"],
            "rounds": ROUNDS,
            "memory": runs["csvprof"][0]["memory"],
            "workers": runs["csvprof"][0]["workers"],
            "ratio": ratio,
            **numbers,
        },
    )
    if "na" not in duck:  # DuckDB counts ragged rows among its rows; the profile apart
        assert ours["rows"] + ours["ragged_rows"] == duck["rows"]
    assert ratio is not None, f"DuckDB could not read the {shape} file: {duck['na']}"
    assert ratio >= MIN_RATIO[shape], f"{shape}: csvprof/DuckDB {ratio:.2f} < floor {MIN_RATIO[shape]}"
    check_peak(shape, ours["peak_rss_mb"])


def check_peak(shape: str, peak_mb: float) -> None:
    """The memory gate, or an xfail with its reason for a shape known to exceed it (KNOWN_PEAK_EXCESS)."""
    ceiling, reason = KNOWN_PEAK_EXCESS.get(shape, (MAX_PEAK_RSS_MB, ""))
    assert peak_mb <= ceiling, f"{shape}: csvprof's tree peaked at {peak_mb:.0f} MB"
    if peak_mb > MAX_PEAK_RSS_MB:
        pytest.xfail(f"{shape}: peak {peak_mb:.0f} MB > {MAX_PEAK_RSS_MB} MB, known: {reason}")


def _lambda_workers() -> int:
    """What `available_cpus()` gives under the Lambda quota, from a cpu.max file holding it."""
    with tempfile.TemporaryDirectory() as folder:
        cpu_max = Path(folder) / "cpu.max"
        cpu_max.write_text(f"{round(LAMBDA_CPUS * CPU_PERIOD_US)} {CPU_PERIOD_US}\n")
        return available_cpus(cpu_max=cpu_max)


def _lambda_unavailable() -> str | None:
    try:
        ProbeCgroup.create(lambda_shaped=True).remove()
    except CgroupUnavailable as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(("shape", "size"), CASES)
def test_lambda_shaped_throughput(benchmark: Any, generated: Files, shape: str, size: str) -> None:
    reason = _lambda_unavailable()
    if reason is not None:
        pytest.skip(f"no cgroup with a CPU quota and a memory limit can be made here: {reason}")
    path = generated.get(shape, size)
    runs: list[dict[str, Any]] = []
    benchmark.pedantic(
        lambda: runs.append(probe("csvprof", path, lambda_shaped=True)), rounds=1, iterations=1
    )
    result = runs[0]
    assert "error" not in result, result
    mb_per_s = path.stat().st_size / 1e6 / result["seconds"]
    record(
        benchmark,
        "lambda",
        shape,
        size,
        {
            "bytes": path.stat().st_size,
            "cpu_quota": round(LAMBDA_CPUS, 3),
            "memory_limit_mb": WORKER_MEMORY_MB,
            "workers": result["workers"],
            "csvprof": {
                "seconds": round(result["seconds"], 3),
                "mb_per_s": round(mb_per_s, 1),
                "peak_rss_mb": round(result["peak_rss_mb"], 1),
            },
            "projected_5gib_s": round(5 * GiB / 1e6 / mb_per_s, 1),
        },
    )
    # The engine saw the quota in its own cgroup, and chose the workers it gives.
    assert result["cpu_quota"] == pytest.approx(LAMBDA_CPUS, abs=1e-3)
    expected = _lambda_workers()
    assert expected == max(1, min(usable_cores(), math.floor(LAMBDA_CPUS + 0.5)))
    assert result["workers"] == expected
    check_peak(shape, result["peak_rss_mb"])


@pytest.mark.parametrize(("shape", "size"), CASES)
def test_peak_memory_beside_cpu_hogs(benchmark: Any, generated: Files, shape: str, size: str) -> None:
    path = generated.get(shape, size)
    runs: list[dict[str, Any]] = []
    with cpu_hogs(usable_cores()) as hogs:
        benchmark.pedantic(lambda: runs.append(probe("csvprof", path)), rounds=1, iterations=1)
        still_running = [hog.poll() is None for hog in hogs]
    result = runs[0]
    assert "error" not in result, result
    record(
        benchmark,
        "hog",
        shape,
        size,
        {
            "bytes": path.stat().st_size,
            "hogs": len(hogs),
            "memory": result["memory"],
            "workers": result["workers"],
            "csvprof": {
                "seconds": round(result["seconds"], 3),
                "mb_per_s": round(path.stat().st_size / 1e6 / result["seconds"], 1),
                "peak_rss_mb": round(result["peak_rss_mb"], 1),
            },
        },
    )
    assert all(still_running), "a CPU hog ended before the run did"
    check_peak(shape, result["peak_rss_mb"])


@pytest.mark.parametrize("size", perf_sizes())
def test_throughput_by_workers(benchmark: Any, generated: Files, size: str) -> None:
    path = generated.get("mixed", size)
    counts = list(range(1, usable_cores() + 1))
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}

    def one_round() -> None:
        for n in counts:
            runs[n].append(probe("csvprof", path, workers=n))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    mb = path.stat().st_size / 1e6
    by_workers = {str(n): _numbers(n_runs, mb) for n, n_runs in runs.items()}
    record(benchmark, "workers", "mixed", size, {"bytes": path.stat().st_size, "by_workers": by_workers})
    for n, n_runs in runs.items():
        assert all(r["workers"] == n for r in n_runs), "the probe's --workers reached the engine"
        assert "na" not in by_workers[str(n)], by_workers[str(n)]
        assert by_workers[str(n)]["peak_rss_mb"] <= MAX_PEAK_RSS_MB


def test_a_100mb_single_line_is_field_too_large_in_bounded_memory(perf_dir: Path) -> None:
    path = perf_dir / "one-line-100mb.csv"
    with path.open("wb") as f:
        for _ in range(100):
            f.write(b"x" * 1_000_000)
    try:
        result = probe("csvprof", path)
    finally:
        path.unlink()
    assert result["error"] == "FIELD_TOO_LARGE"
    assert result["peak_rss_mb"] <= MAX_PEAK_RSS_MB
