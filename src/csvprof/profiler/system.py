"""The process around the engine: real probes for `Budget`, and process-wide allocator settings.

The engine itself never reads a probe or changes the process: a process that profiles calls
`tune_process()` once when it starts (the worker Lambda's `build_worker`, the CLI, the perf
probe), and passes the probes in a `Budget` (`default_budget`, or the worker's `budget_for`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pyarrow as pa

from csvprof.domain.ports import Budget
from csvprof.limits import MiB, ProfileLimits

_M_TRIM_THRESHOLD: Final = -1  # glibc mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD: Final = -3
# Allocations below this come from the heap (glibc's default threshold is 128 KiB), and freed
# heap memory above this stays mapped for the next allocations.
MMAP_THRESHOLD_BYTES: Final = 16 * MiB
TRIM_THRESHOLD_BYTES: Final = 64 * MiB
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


@functools.cache
def tune_process() -> None:
    """Set the process-wide allocator settings the engine is fast and small with; idempotent.

    Call it once where a process that profiles starts: both settings belong to the whole
    process (forked workers inherit them), so the engine does not change them per profile.
    Profiles are the same without it, only slower and larger.
    """
    _keep_numpy_temporaries_mapped()
    _use_jemalloc()


def _keep_numpy_temporaries_mapped() -> None:
    """Stop glibc from mmap-ing, and unmapping, every numpy temporary above 128 KiB.

    A chunk's columns make arrays of tens of thousands of elements: above the threshold each
    one is a fresh mapping whose pages fault in again, which costs far more than the arithmetic
    on them. Kept mapped, a freed temporary's pages serve the next one. A no-op where libc has
    no mallopt.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)


def _use_jemalloc() -> None:
    """Route Arrow's allocations through jemalloc when this pyarrow build has it.

    The default mimalloc pool keeps freed per-thread segments resident, so the peak memory
    of a profile is clearly lower with jemalloc.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    if pa.default_memory_pool().backend_name != pool.backend_name:
        pa.set_memory_pool(pool)
