"""Perf layer fixtures: generated files by size, fresh-process probes, and the report writer.

CSVPROF_PERF_SIZES picks the file sizes (default "100MB"; e.g. "100MB,1GB"). Each benchmark
records its numbers; at the end of the session docs/performance.md is re-rendered with them
(tests/perf/report.py; one entry per size, so a 100 MB run keeps the last 1 GB numbers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from csvprof.local.testdata import write_csv
from csvprof.profiler import tune_process
from tests.perf.cgroup import MemoryCgroup
from tests.perf.probe import SAMPLE_ENV
from tests.perf.report import update_report

ROOT = Path(__file__).resolve().parents[2]
SIZES_ENV = "CSVPROF_PERF_SIZES"
RESULTS: dict[str, dict[str, Any]] = {}
_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    for unit, factor in _UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def perf_sizes() -> list[str]:
    return [s.strip().upper() for s in os.environ.get(SIZES_ENV, "100MB").split(",") if s.strip()]


def probe(tool: str, path: Path) -> dict[str, Any]:
    """One run in a fresh interpreter (`python -m tests.perf.probe`), so its peak memory is its own.

    The run gets a memory cgroup of its own where one can be made (tests/perf/cgroup.py): the
    kernel's peak for it counts the whole process tree, and the probe need not sample.
    """
    cgroup = MemoryCgroup.create()
    env = {**os.environ, SAMPLE_ENV: "0"} if cgroup is not None else None
    if cgroup is not None:
        _read_through(path)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "tests.perf.probe", tool, str(path)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
            env=env,
            preexec_fn=cgroup.join if cgroup is not None else None,
        )
        result: dict[str, Any] = json.loads(out.stdout)
        if cgroup is not None:
            # Library pages were read into the page cache (and charged) before this cgroup existed:
            # add the process's file-backed pages, which a Lambda function's own cgroup would hold.
            tree = cgroup.peak_mb() + result["rss_file_mb"]
            result["peak_rss_mb"] = max(result["peak_rss_mb"], tree)
        result["memory"] = "cgroup" if cgroup is not None else "sampled"
        return result
    finally:
        if cgroup is not None:
            cgroup.remove()


def _read_through(path: Path) -> None:
    """Read the file here, so its pages are cached (and charged) outside the probe's cgroup.

    A page the probe reads first is charged to its cgroup: once, a 1 GB file partly evicted
    from the cache added 210 MB to the probe's peak.
    """
    with path.open("rb", buffering=0) as f:
        while f.read(16 * 1024 * 1024):
            pass


@pytest.fixture(scope="session", autouse=True)
def tuned_process() -> None:
    """Engines built in this process (the accuracy tests) run as in a profiling process: tuned once."""
    tune_process()


@pytest.fixture(scope="session")
def perf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("perf")


@pytest.fixture(scope="session")
def generated(perf_dir: Path) -> Iterator[dict[str, Path]]:
    """Seeded mixed CSVs, written once per session and size."""
    made: dict[str, Path] = {}

    class Files(dict[str, Path]):
        def __missing__(self, size: str) -> Path:
            path = perf_dir / f"mixed-{size.lower()}.csv"
            write_csv(path, parse_size(size), seed=42)
            made[size] = path
            self[size] = path
            return path

    yield Files()
    for path in made.values():
        path.unlink(missing_ok=True)


def record(size: str, result: dict[str, Any]) -> None:
    RESULTS[size] = result


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The numbers, in every run's output (CI captures test stdout)."""
    if not RESULTS:
        return
    terminalreporter.section("csvprof vs DuckDB SUMMARIZE")
    for size, result in RESULTS.items():
        ours, duck = result["csvprof"], result["duckdb"]
        terminalreporter.write_line(
            f"{size}: csvprof {ours['mb_per_s']:.1f} MB/s, peak RSS {ours['peak_rss_mb']:.0f} MB | "
            f"DuckDB {duck['mb_per_s']:.1f} MB/s, peak RSS {duck['peak_rss_mb']:.0f} MB | "
            f"throughput ratio {result['ratio']:.2f}"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not RESULTS:
        return
    update_report(RESULTS)
