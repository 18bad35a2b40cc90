"""Real probes for `Budget` (the adapters' side; the engine itself never reads them)."""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from csvprof.domain.ports import Budget
from csvprof.limits import ProfileLimits

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024) if hasattr(os, "sysconf") else 4096 / (1024 * 1024)


def rss_mb(workers: Sequence[int] = ()) -> float:
    """Resident memory of this process and of its worker processes `workers` (pids), in MB.

    This process's RSS (/proc/self/statm), plus each worker's private pages (smaps_rollup):
    the pages a forked worker still shares with this process are counted once, as the
    function's memory limit counts them. Without /proc, this process's peak from getrusage.
    """
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return peak_rss_mb()
    return int(fields[1]) * _PAGE_MB + sum(_private_mb(pid) for pid in workers)


def child_pids() -> list[int]:
    """This process's child processes (every thread's), from /proc; empty without it."""
    pids: list[int] = []
    tasks = Path("/proc/self/task")
    for task in tasks.iterdir() if tasks.exists() else ():
        try:
            pids.extend(int(pid) for pid in (task / "children").read_text().split())
        except OSError:  # a thread that just ended
            continue
    return pids


def _private_mb(pid: int) -> float:
    """Private_Clean + Private_Dirty of one process (0 once it has exited)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0.0
    kib = sum(int(line.split()[1]) for line in lines if line.startswith(("Private_Clean:", "Private_Dirty:")))
    return kib / 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB.

    VmHWM first: ru_maxrss survives execve on Linux, so a process started from a
    big parent would report the parent's peak. ru_maxrss is KiB on Linux, bytes on macOS.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def default_budget(limits: ProfileLimits | None = None, deadline_s: float | None = None) -> Budget:
    """A Budget on the real clock; `deadline_s` seconds from now, or never when None."""
    limits = limits if limits is not None else ProfileLimits()
    if deadline_s is None:
        remaining = lambda: math.inf  # noqa: E731
    else:
        deadline = time.monotonic() + deadline_s
        remaining = lambda: deadline - time.monotonic()  # noqa: E731
    return Budget(
        limits=limits,
        remaining_s=remaining,
        rss_mb=rss_mb,
        clock=time.monotonic,
        now=lambda: datetime.now(UTC),
    )
