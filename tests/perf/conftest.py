"""Perf layer fixtures: generated files by shape and size, fresh-process probes in cgroups, CPU hogs.

Every measurement is recorded (`record`) into its benchmark's extra_info, which
`--benchmark-autosave` saves under .benchmarks/ (tests/perf/runs.py), and into the per-shape
table printed at the end of every run, followed by the comparison with the previous saved run.
Nothing here writes docs/performance.md: `python -m tests.perf.report` does, when asked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from csvprof.local.testdata import write_csv
from csvprof.profiler import tune_process
from tests.perf.cgroup import CgroupUnavailable, ProbeCgroup
from tests.perf.compare import compare
from tests.perf.matrix import SEED, parse_size, result_key
from tests.perf.probe import SAMPLE_ENV
from tests.perf.runs import Record, load_run, machine, saved_runs

ROOT = Path(__file__).resolve().parents[2]
RESULTS: dict[str, Record] = {}
_PREVIOUS: list[Path] = []  # the newest run saved before this session, if any
GiB = 2**30


def probe(
    tool: str, path: Path, *, workers: int | None = None, ragged: bool = False, lambda_shaped: bool = False
) -> dict[str, Any]:
    """One run in a fresh interpreter (`python -m tests.perf.probe`), so its peak memory is its own.

    The run gets a memory cgroup of its own where one can be made (tests/perf/cgroup.py): the
    kernel's peak for it counts the whole process tree, and the probe need not sample. With
    `lambda_shaped` the cgroup also has the worker function's CPU quota and memory limit; it
    raises CgroupUnavailable where that cannot be made.
    """
    try:
        cgroup: ProbeCgroup | None = ProbeCgroup.create(lambda_shaped=lambda_shaped)
    except CgroupUnavailable:
        if lambda_shaped:
            raise
        cgroup = None
    env = {**os.environ, SAMPLE_ENV: "0"} if cgroup is not None else None
    if cgroup is not None:
        _read_through(path)
    argv = [sys.executable, "-m", "tests.perf.probe", tool, str(path)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if ragged:
        argv.append("--ragged")
    try:
        out = subprocess.run(
            argv,
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
            timeout=1800,
            env=env,
            preexec_fn=cgroup.join if cgroup is not None else None,
        )
        if out.returncode != 0:
            oom = cgroup is not None and cgroup.oom_killed()
            raise AssertionError(
                f"probe {tool} {path.name} exited {out.returncode}"
                f"{' (killed for its memory limit)' if oom else ''}: {out.stderr[-2000:]}"
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


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def cpu_hogs(count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` busy-looping processes (outside the probe's cgroup), killed and reaped on the way out."""
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            hogs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


@pytest.fixture(scope="session", autouse=True)
def tuned_process() -> None:
    """Engines built in this process (the accuracy tests) run as in a profiling process: tuned once."""
    tune_process()


@pytest.fixture(scope="session")
def perf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("perf")


class Files:
    """Seeded CSVs by shape and size, each written once per session and removed at its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: dict[tuple[str, str], Path] = {}

    def get(self, shape: str, size: str) -> Path:
        if (shape, size) not in self.made:
            path = self.folder / f"{shape}-{size.lower()}.csv"
            write_csv(path, parse_size(size), seed=SEED, shape=shape)
            self.made[shape, size] = path
        return self.made[shape, size]


@pytest.fixture(scope="session")
def generated(perf_dir: Path) -> Iterator[Files]:
    files = Files(perf_dir)
    yield files
    for path in files.made.values():
        path.unlink(missing_ok=True)


def record(benchmark: Any, kind: str, shape: str, size: str, result: Record) -> None:
    """One measurement: into the saved run (the benchmark's extra_info) and this run's summary."""
    entry = {"kind": kind, "shape": shape, "size": size, **result}
    benchmark.extra_info.update(entry)
    RESULTS[result_key(kind, shape, size)] = entry


def _storage(config: pytest.Config) -> Path:
    option = str(config.getoption("benchmark_storage", default="file://./.benchmarks"))
    return Path(option.removeprefix("file://")).resolve()


def pytest_sessionstart(session: pytest.Session) -> None:
    runs = saved_runs(_storage(session.config))
    _PREVIOUS[:] = runs[-1:]


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine_info["csvprof"] = machine()


def _mbps(entry: Record | None, tool: str = "csvprof") -> str:
    if entry is None or tool not in entry:
        return "-"
    numbers = entry[tool]
    return "n/a" if "na" in numbers else f"{numbers['mb_per_s']:.0f}"


def summary_lines(results: dict[str, Record]) -> list[str]:
    """The per-shape table every run prints (MB/s are decimal megabytes per second)."""
    cases = sorted(
        {(r["shape"], r["size"]) for r in results.values() if r["kind"] in ("matrix", "lambda", "hog")},
        key=lambda case: (parse_size(case[1]), case[0]),
    )
    head = (
        f"{'shape':<11}{'size':>7}{'csvprof':>9}{'DuckDB':>8}{'Polars':>8}{'ratio':>7}"
        f"{'peak MB':>9}{'DuckDB':>8}{'Lambda':>8}{'5 GiB s':>9}{'hog peak':>10}"
    )
    lines = [head, f"{'':<18}{'MB/s':>9}{'MB/s':>8}{'MB/s':>8}{'':>7}{'csvprof':>9}{'peak MB':>8}{'MB/s':>8}"]
    for shape, size in cases:
        m = results.get(result_key("matrix", shape, size))
        lam = results.get(result_key("lambda", shape, size))
        hog = results.get(result_key("hog", shape, size))
        ratio = f"{m['ratio']:.2f}" if m and m.get("ratio") is not None else "-"
        peak = f"{m['csvprof']['peak_rss_mb']:.0f}" if m else "-"
        duck_peak = f"{m['duckdb']['peak_rss_mb']:.0f}" if m and "peak_rss_mb" in m["duckdb"] else "-"
        projected = f"{lam['projected_5gib_s']:.0f}" if lam else "-"
        hog_peak = f"{hog['csvprof']['peak_rss_mb']:.0f}" if hog else "-"
        lines.append(
            f"{shape:<11}{size:>7}{_mbps(m):>9}{_mbps(m, 'duckdb'):>8}{_mbps(m, 'polars'):>8}{ratio:>7}"
            f"{peak:>9}{duck_peak:>8}{_mbps(lam):>8}{projected:>9}{hog_peak:>10}"
        )
    return lines


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The numbers, in every run's output, then how they compare with the previous saved run."""
    if not RESULTS:
        return
    terminalreporter.section("csvprof vs DuckDB SUMMARIZE and Polars describe, by shape")
    table = summary_lines(RESULTS)
    for line in table if len(table) > 2 else []:
        terminalreporter.write_line(line)
    for _, entry in sorted(RESULTS.items()):
        if entry["kind"] == "workers":
            by = ", ".join(f"{n}: {r['mb_per_s']:.0f} MB/s" for n, r in entry["by_workers"].items())
            terminalreporter.write_line(f"workers, {entry['shape']} {entry['size']}: {by}")
        elif entry["kind"] == "worker5g":
            terminalreporter.write_line(
                f"5 GiB through the worker: {entry['status']} in {entry['seconds']:.1f} s "
                f"({entry['mb_per_s']:.0f} MB/s), {entry['remaining_s']:.0f} s left, "
                f"tree peak {entry['peak_rss_mb']:.0f} MB"
            )
    terminalreporter.section("compared with the previous saved run")
    if not _PREVIOUS:
        terminalreporter.write_line("no previous run")
        return
    changes = compare(load_run(_PREVIOUS[0]), RESULTS)
    terminalreporter.write_line(f"previous: {_PREVIOUS[0]}")
    if not changes:
        terminalreporter.write_line("no shape and size in common with it")
    for change in changes:
        terminalreporter.write_line(change.line())
