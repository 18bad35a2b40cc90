"""`available_cpus()`: the affinity mask's count, lowered by a cgroup v2 or v1 CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from csvprof.profiler import engine
from csvprof.profiler.engine import available_cpus, cpu_quota


@pytest.fixture
def cores(monkeypatch: pytest.MonkeyPatch) -> int:
    """Pretend the affinity mask has 4 cores."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    return 4


def _v2(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpu.max"
    path.write_text(text)
    return path


NO_V1 = Path("/nonexistent/cgroup/cpu")


@pytest.mark.parametrize(
    ("text", "workers"),
    [
        ("max 100000\n", 4),  # no quota
        ("116000 100000\n", 1),  # 1.16 CPUs
        ("50000 100000\n", 1),  # half a CPU: still one worker
        ("250000 100000\n", 3),  # 2.5 rounds half up: the half core is used
        ("240000 100000\n", 2),
        ("800000 100000\n", 4),  # more than the mask: the mask
        ("", 4),  # unreadable content
        ("garbage\n", 4),
    ],
)
def test_cgroup_v2_quota(tmp_path: Path, cores: int, text: str, workers: int) -> None:
    assert available_cpus(_v2(tmp_path, text), NO_V1) == workers


def test_quota_value(tmp_path: Path) -> None:
    assert cpu_quota(_v2(tmp_path, "116000 100000\n"), NO_V1) == pytest.approx(1.16)
    assert cpu_quota(_v2(tmp_path, "max 100000\n"), NO_V1) is None


def test_no_file_is_the_affinity_mask(tmp_path: Path, cores: int) -> None:
    assert available_cpus(tmp_path / "missing", NO_V1) == cores
    assert available_cpus(tmp_path, NO_V1) == cores  # a directory: not readable as a file


def test_cgroup_v1_when_there_is_no_v2(tmp_path: Path, cores: int) -> None:
    (tmp_path / "cpu.cfs_quota_us").write_text("150000\n")
    (tmp_path / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus(tmp_path / "missing", tmp_path) == 2  # 1.5 rounds half up
    (tmp_path / "cpu.cfs_quota_us").write_text("-1\n")
    assert available_cpus(tmp_path / "missing", tmp_path) == cores


def test_v2_wins_over_v1(tmp_path: Path, cores: int) -> None:
    (tmp_path / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus(_v2(tmp_path, "max 100000\n"), tmp_path) == cores


def test_engine_default_workers_follow_the_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "available_cpus", lambda: 3)
    assert engine.ArrowProfileEngine().workers == 3
    assert engine.ArrowProfileEngine(workers=2).workers == 2


def _tree(root: Path, quotas: dict[str, str]) -> None:
    for rel, text in quotas.items():
        (root / rel).mkdir(parents=True, exist_ok=True)
        (root / rel / "cpu.max").write_text(text)


def test_the_process_cgroup_and_its_ancestors_v2(tmp_path: Path) -> None:
    """A nested cgroup: the quota is read where /proc/self/cgroup says, and a parent's binds it too."""
    proc = tmp_path / "proc-cgroup"
    proc.write_text("0::/slice/job\n")
    root = tmp_path / "fs"
    _tree(root, {"": "max 100000\n", "slice": "max 100000\n", "slice/job": "116000 100000\n"})
    assert engine.process_cpu_quota(proc, root) == pytest.approx(1.16)
    _tree(root, {"slice": "50000 100000\n"})  # the tighter parent wins
    assert engine.process_cpu_quota(proc, root) == pytest.approx(0.5)
    _tree(root, {"slice": "max 100000\n", "slice/job": "max 100000\n"})
    assert engine.process_cpu_quota(proc, root) is None


def test_the_process_cgroup_v1(tmp_path: Path) -> None:
    proc = tmp_path / "proc-cgroup"
    proc.write_text("4:memory:/m\n2:cpu,cpuacct:/bench/run\n0::/\n")
    job = tmp_path / "fs" / "cpu" / "bench" / "run"
    job.mkdir(parents=True)
    (job / "cpu.cfs_quota_us").write_text("115800\n")
    (job / "cpu.cfs_period_us").write_text("100000\n")
    assert engine.process_cpu_quota(proc, tmp_path / "fs") == pytest.approx(1.158)
    assert engine.process_cpu_quota(tmp_path / "missing", tmp_path / "fs") is None
