"""Saved perf runs: pytest-benchmark's JSON files under .benchmarks/ (gitignored).

`tox -e perf` (and `perf-5g`) save every run with `--benchmark-autosave`: pytest-benchmark writes
`.benchmarks/<machine id>/NNNN_<commit>_<date>.json` with its machine_info and commit_info; each
benchmark's `extra_info` holds one measurement (its "kind": matrix, lambda, hog, workers or
worker5g, its shape and size, and the numbers). `machine_info["csvprof"]` adds what the
comparison needs (`machine()`: the CPU, the cores and CPU quota, the library versions).
"""

from __future__ import annotations

import json
import os
import platform
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from csvprof.profiler.engine import available_cpus, cpu_quota
from tests.perf.matrix import result_key

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / ".benchmarks"
Record = dict[str, Any]


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """The machine and libraries a run measured on, as the doc prints them."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": model,
        "cores_available": cores,
        "cpu_quota": cpu_quota(),
        "engine_workers": available_cpus(),
        "python": platform.python_version(),
        "pyarrow": version("pyarrow"),
        "numpy": version("numpy"),
        "datasketches": version("datasketches"),
        "duckdb": _version("duckdb"),
        "polars": _version("polars"),
        "platform": platform.platform(),
        # Other work on the machine when the run was saved: the numbers are only comparable with care.
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def saved_runs(storage: Path = STORAGE) -> list[Path]:
    """Every saved run under `storage`, oldest first (by the time each was saved)."""
    paths = [p for p in storage.glob("*/[0-9][0-9][0-9][0-9]_*.json") if p.is_file()]
    return sorted(paths, key=lambda p: (_saved_at(p), p.name))


def _saved_at(path: Path) -> str:
    try:
        return str(json.loads(path.read_text()).get("datetime", ""))
    except (OSError, ValueError):
        return ""


def load_run(path: Path) -> dict[str, Record]:
    """A saved run's measurements by key ("matrix/mixed/100MB"), each with when, where and at what commit."""
    run = json.loads(path.read_text())
    stamp = datetime.fromisoformat(run["datetime"]).strftime("%Y-%m-%d %H:%M UTC")
    commit = run.get("commit_info", {})
    commit_id = str(commit.get("id") or "unknown")[:10] + ("+dirty" if commit.get("dirty") else "")
    about = {
        "measured_at": stamp,
        "machine": run.get("machine_info", {}).get("csvprof", {}),
        "commit": commit_id,
    }
    results: dict[str, Record] = {}
    for bench in run.get("benchmarks", []):
        extra = bench.get("extra_info", {})
        if "kind" in extra:
            results[result_key(extra["kind"], extra["shape"], extra["size"])] = {**extra, **about}
    return results
