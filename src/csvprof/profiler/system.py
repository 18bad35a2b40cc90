"""Real probes for `Budget` (the adapters' side; the engine itself never reads them)."""

from __future__ import annotations

import math
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from csvprof.limits import ProfileLimits
from csvprof.profiler.engine import Budget

_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024) if hasattr(os, "sysconf") else 4096 / (1024 * 1024)


def rss_mb() -> float:
    """Current resident set size in MB: /proc/self/statm on Linux, else the peak from getrusage."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
        return int(fields[1]) * _PAGE_MB
    except OSError:
        return peak_rss_mb()


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
