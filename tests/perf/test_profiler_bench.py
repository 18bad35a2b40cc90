"""Throughput and peak RSS of csvprof vs DuckDB SUMMARIZE on the same generated file, same run.

Sizes come from CSVPROF_PERF_SIZES (default 100MB). Each tool runs ROUNDS times in fresh
interpreters, alternating, and the fastest run of each counts; the budgets are checked
against those numbers, which are also written to docs/performance.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.perf.conftest import perf_sizes, probe, record
from tests.perf.report import MAX_PEAK_RSS_MB, MIN_THROUGHPUT_RATIO

pytestmark = pytest.mark.perf
ROUNDS = 3


@pytest.mark.parametrize("size", perf_sizes())
def test_throughput_and_peak_rss_vs_duckdb_summarize(
    benchmark: Any, generated: dict[str, Path], size: str
) -> None:
    path = generated[size]
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []

    def one_round() -> None:
        ours.append(probe("csvprof", path))
        theirs.append(probe("duckdb", path))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    best, duck = min(ours, key=lambda r: r["seconds"]), min(theirs, key=lambda r: r["seconds"])
    assert "error" not in best, best
    assert best["rows"] == duck["rows"]

    mb = path.stat().st_size / 1e6
    ours_mbps, duck_mbps = mb / best["seconds"], mb / duck["seconds"]
    ratio = ours_mbps / duck_mbps
    peak = max(r["peak_rss_mb"] for r in ours)
    print(
        f"\n{size} ({mb:.0f} MB, {best['rows']:,} rows): csvprof {ours_mbps:.1f} MB/s, peak RSS {peak:.0f} MB"
        f" | DuckDB SUMMARIZE {duck_mbps:.1f} MB/s, peak RSS {duck['peak_rss_mb']:.0f} MB"
        f" | ratio {ratio:.2f}"
    )
    result = {
        "bytes": path.stat().st_size,
        "rows": best["rows"],
        "runs": ROUNDS,
        "memory": best["memory"],
        "ratio": round(ratio, 3),
        "csvprof": {
            "seconds": round(best["seconds"], 3),
            "mb_per_s": round(ours_mbps, 1),
            "peak_rss_mb": round(peak, 1),
        },
        "duckdb": {
            "seconds": round(duck["seconds"], 3),
            "mb_per_s": round(duck_mbps, 1),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in theirs), 1),
        },
    }
    benchmark.extra_info.update(result)
    record(size, result)
    assert peak <= MAX_PEAK_RSS_MB
    assert ratio >= MIN_THROUGHPUT_RATIO


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
