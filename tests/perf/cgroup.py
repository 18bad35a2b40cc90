"""Peak memory of a probe's whole process tree, from a memory cgroup of its own.

The probe joins a fresh cgroup before it execs, so its heap, csvprof's forked workers and
their shared chunk slots are all charged there, once each, as a Lambda function's limit
counts them, and the kernel keeps the peak: nothing samples, so nothing slows the run
(sampling every 100 ms cost 2-5 % of a 1 GB run). Shared libraries were cached, and charged,
before the cgroup existed: the caller adds the probe's file-backed pages (RssFile) back.
Where no cgroup can be made (not root, a read-only hierarchy, no memory controller),
`MemoryCgroup.create()` gives None and the probe samples instead.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_MiB = 1024 * 1024
_names = itertools.count()


class MemoryCgroup:
    def __init__(self, path: Path, peak_file: str) -> None:
        self.path = path
        self._peak_file = peak_file

    @classmethod
    def create(cls) -> MemoryCgroup | None:
        """A new, empty memory cgroup below this process's own, or None where none can be made."""
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _, controllers, where = line.split(":", 2)
            if "memory" in controllers.split(","):  # cgroup v1
                parent, peak_file = CGROUP_ROOT / "memory" / where.lstrip("/"), "memory.max_usage_in_bytes"
                break
        else:  # cgroup v2: one hierarchy; memory.peak needs Linux 5.19
            unified = next((line.split(":", 2)[2] for line in lines if line.startswith("0::")), None)
            if unified is None:
                return None
            parent, peak_file = CGROUP_ROOT / unified.lstrip("/"), "memory.peak"
        path = parent / f"csvprof-probe-{os.getpid()}-{next(_names)}"
        try:
            path.mkdir()
        except OSError:
            return None
        if not (path / peak_file).exists() or not os.access(path / "cgroup.procs", os.W_OK):
            path.rmdir()
            return None
        return cls(path, peak_file)

    def join(self) -> None:
        """Move the calling process in (a subprocess's preexec_fn: before it execs)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def peak_mb(self) -> float:
        return int((self.path / self._peak_file).read_text()) / _MiB

    def remove(self) -> None:
        """Remove the cgroup; its processes have exited, though the kernel may lag a moment."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)
        self.path.rmdir()
