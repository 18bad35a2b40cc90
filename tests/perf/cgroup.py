"""Cgroups for the perf probes: the whole process tree's peak memory, and Lambda's limits.

`ProbeCgroup.create()` makes a fresh memory cgroup below this process's own. The probe joins it
before it execs, so its heap, csvprof's forked workers and their shared chunk slots are all
charged there, once each, as a Lambda function's limit counts them, and the kernel keeps the
peak: nothing samples, so nothing slows the run (sampling every 100 ms cost 2-5 % of a 1 GB run).
Shared libraries were cached, and charged, before the cgroup existed: the caller adds the
probe's file-backed pages (RssFile) back.

`ProbeCgroup.create(lambda_shaped=True)` adds the worker function's limits, from
`csvprof.limits`: a CPU quota of WORKER_MEMORY_MB / 1,769 CPUs (Lambda gives one vCPU per
1,769 MB) and a memory limit of WORKER_MEMORY_MB. The probe then also gets a cgroup namespace
with the CPU controller mounted again inside it, as a Lambda sandbox (or a container) has: the
engine reads its quota where it would there (`/sys/fs/cgroup/cpu.max`, or
`/sys/fs/cgroup/cpu/cpu.cfs_quota_us` on cgroup v1), and finds this cgroup's.

cgroup v1 (a memory and a cpu hierarchy) and v2 (one hierarchy: memory.peak needs Linux 5.19)
are both handled. Where a cgroup cannot be made (not root, a read-only hierarchy, a controller
missing), `create` raises `CgroupUnavailable` with the reason.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

from csvprof.limits import WORKER_MEMORY_MB

CGROUP_ROOT = Path("/sys/fs/cgroup")
LAMBDA_MB_PER_VCPU = 1769  # Lambda: a function gets one vCPU at 1,769 MB, pro rata around it
LAMBDA_CPUS = WORKER_MEMORY_MB / LAMBDA_MB_PER_VCPU
CPU_PERIOD_US = 100_000
_MiB = 1024 * 1024
_names = itertools.count()

# <sched.h> and <sys/mount.h>
_CLONE_NEWNS = 0x00020000
_CLONE_NEWCGROUP = 0x02000000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 0x2, 0x4, 0x8
_MNT_DETACH = 0x2


class CgroupUnavailable(Exception):
    """No cgroup of the kind asked for can be made here; the message says why."""


@dataclass(frozen=True)
class _Layout:
    version: int
    memory_parent: Path
    cpu_parent: Path | None


def _layout() -> _Layout:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError as exc:
        raise CgroupUnavailable(f"cannot read /proc/self/cgroup: {exc}") from exc
    v1 = {}
    for line in lines:
        _, controllers, where = line.split(":", 2)
        for controller in controllers.split(","):
            if controller:
                v1[controller] = where.lstrip("/")
    if "memory" in v1:
        cpu = CGROUP_ROOT / "cpu" / v1["cpu"] if "cpu" in v1 else None
        return _Layout(1, CGROUP_ROOT / "memory" / v1["memory"], cpu)
    unified = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
    if unified is None or not (CGROUP_ROOT / "cgroup.controllers").exists():
        raise CgroupUnavailable("no memory controller: neither a cgroup v1 memory hierarchy nor cgroup v2")
    parent = CGROUP_ROOT / unified.lstrip("/")
    return _Layout(2, parent, parent)


class ProbeCgroup:
    """One probe's cgroup(s): joined by the probe before it execs, removed by the caller after."""

    def __init__(self, layout: _Layout, dirs: list[Path], cpu_quota: float | None) -> None:
        self._layout = layout
        self.dirs = dirs  # memory first
        self.cpu_quota = cpu_quota
        self._peak_file = "memory.max_usage_in_bytes" if layout.version == 1 else "memory.peak"

    @classmethod
    def create(cls, lambda_shaped: bool = False) -> ProbeCgroup:
        """A new, empty cgroup; with `lambda_shaped`, the worker function's CPU quota and memory limit."""
        layout = _layout()
        name = f"csvprof-probe-{os.getpid()}-{next(_names)}"
        made: list[Path] = []
        try:
            memory = _mkdir(layout.memory_parent / name, made)
            peak = "memory.max_usage_in_bytes" if layout.version == 1 else "memory.peak"
            if not (memory / peak).exists() or not os.access(memory / "cgroup.procs", os.W_OK):
                raise CgroupUnavailable(f"{memory} has no writable cgroup.procs or no {peak}")
            if not lambda_shaped:
                return cls(layout, made, None)
            limit = str(WORKER_MEMORY_MB * _MiB)
            quota = round(LAMBDA_CPUS * CPU_PERIOD_US)
            if layout.version == 1:
                if layout.cpu_parent is None:
                    raise CgroupUnavailable("cgroup v1 without a cpu hierarchy: no CPU quota can be set")
                _write(memory / "memory.limit_in_bytes", limit)
                cpu = _mkdir(layout.cpu_parent / name, made)
                _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                _write(cpu / "cpu.cfs_quota_us", str(quota))
            else:
                if not (memory / "cpu.max").exists():
                    raise CgroupUnavailable(
                        f"no cpu controller below {layout.memory_parent} (see its cgroup.subtree_control)"
                    )
                _write(memory / "memory.max", limit)
                _write(memory / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            return cls(layout, made, quota / CPU_PERIOD_US)
        except CgroupUnavailable:
            _rmdirs(made)
            raise
        except OSError as exc:
            _rmdirs(made)
            raise CgroupUnavailable(f"cannot set up a cgroup: {exc}") from exc

    def join(self) -> None:
        """Move the calling process in (a subprocess's preexec_fn: runs in the child before it execs).

        With a CPU quota the child also gets a cgroup namespace rooted at its new cgroups and a
        mount namespace in which the CPU hierarchy is mounted again, so /sys/fs/cgroup shows it
        its own quota, as a Lambda sandbox does.
        """
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(os.getpid()))
        if self.cpu_quota is None:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        libc.unshare.argtypes = [ctypes.c_int]
        libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        libc.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWCGROUP), "unshare")
        _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
        flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        # The hierarchy cannot be mounted again over itself (EBUSY): detach the inherited mount first.
        if self._layout.version == 1:
            target = str(CGROUP_ROOT / "cpu").encode()
            _check(libc.umount2(target, _MNT_DETACH), "umount /sys/fs/cgroup/cpu")
            _check(libc.mount(b"cgroup", target, b"cgroup", flags, b"cpu"), "mount cgroup cpu")
        else:
            target = str(CGROUP_ROOT).encode()
            _check(libc.umount2(target, _MNT_DETACH), "umount /sys/fs/cgroup")
            _check(libc.mount(b"cgroup2", target, b"cgroup2", flags, None), "mount cgroup2")

    def peak_mb(self) -> float:
        return int((self.dirs[0] / self._peak_file).read_text()) / _MiB

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this cgroup for its memory limit."""
        events = self.dirs[0] / ("memory.oom_control" if self._layout.version == 1 else "memory.events")
        try:
            for line in events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except OSError:
            return False
        return False

    def remove(self) -> None:
        """Remove the cgroups; their processes have exited, though the kernel may lag a moment."""
        _rmdirs(self.dirs)


def _mkdir(path: Path, made: list[Path]) -> Path:
    try:
        path.mkdir()
    except OSError as exc:
        raise CgroupUnavailable(f"cannot create {path}: {exc.strerror}") from exc
    made.append(path)
    return path


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        raise CgroupUnavailable(f"cannot write {value!r} to {path}: {exc.strerror}") from exc


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _rmdirs(paths: list[Path]) -> None:
    for path in paths:
        for _ in range(50):
            try:
                path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)
        else:
            path.rmdir()
