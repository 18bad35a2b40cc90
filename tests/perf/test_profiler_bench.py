"""Throughput and peak RSS of the Arrow engine vs DuckDB SUMMARIZE on the same generated file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from csvprof.profiler import ArrowProfileEngine, default_budget
from csvprof.testdata import write_csv

TARGET_BYTES = 100_000_000
MAX_PEAK_RSS_MB = 256
MIN_THROUGHPUT_RATIO = 0.5

pytestmark = pytest.mark.perf


@pytest.fixture(scope="session")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("perf") / "mixed-100mb.csv"
    write_csv(path, TARGET_BYTES, seed=42)
    return path


def _probe(tool: str, path: Path) -> dict[str, Any]:
    """One run in a fresh interpreter, so its peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, "-m", "csvprof.profiler.probe", tool, str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def test_profile_throughput_and_memory_vs_duckdb(benchmark: Any, big_csv: Path) -> None:
    size = big_csv.stat().st_size

    def run() -> dict[str, Any]:
        with big_csv.open("rb") as f:
            return ArrowProfileEngine().profile(f, size=size, budget=default_budget())

    profile = benchmark.pedantic(run, rounds=2, iterations=1)
    arrow, duck = _probe("arrow", big_csv), _probe("duckdb", big_csv)
    assert arrow["rows"] == duck["rows"] == profile["dataset"]["rows"]

    mb = size / 1e6
    arrow_mbps = mb / benchmark.stats.stats.min
    duck_mbps = mb / duck["seconds"]
    ratio = arrow_mbps / duck_mbps
    print(
        f"\n{mb:.0f} MB: csvprof {arrow_mbps:.1f} MB/s peak {arrow['peak_rss_mb']:.0f} MB | "
        f"duckdb SUMMARIZE {duck_mbps:.1f} MB/s peak {duck['peak_rss_mb']:.0f} MB | "
        f"throughput ratio {ratio:.2f}"
    )
    benchmark.extra_info.update(
        mb_per_s=arrow_mbps, peak_rss_mb=arrow["peak_rss_mb"], duckdb_mb_per_s=duck_mbps, ratio=ratio
    )
    assert arrow["peak_rss_mb"] <= MAX_PEAK_RSS_MB
    assert ratio >= MIN_THROUGHPUT_RATIO
