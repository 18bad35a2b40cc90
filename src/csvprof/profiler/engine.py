"""The Arrow profiling engine: a CSV byte stream in, the profile.json document (`Profile`) out.

Every clock, memory probe and limit arrives in `Budget`, and the engine changes nothing
process-wide (a profiling process calls `system.tune_process()` once). `open_source` sniffs
the head and wraps the rest in a counting stream; `fold` cuts it into chunks of whole rows (a
quote-parity scan, so quoted newlines never split a row) that `workers` (forked processes, or
threads: workers.py) each parse with Arrow (parser.py) and fold into their own partial profile;
the partials are merged and made into the profile (assemble.py): the same merge that combines
profiles of separate byte ranges. docs/profiler.md describes the design.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from csvprof.contracts.keys import DatasetId
from csvprof.contracts.profile import Profile, Runtime
from csvprof.domain.ports import Budget
from csvprof.errors import (
    CsvParseError,
    EmptyFile,
    FileTooLarge,
    MemoryLimitExceeded,
    TimeLimitExceeded,
    TooManyColumns,
)
from csvprof.limits import MiB, ProfileLimits
from csvprof.profiler.assemble import assemble, merge
from csvprof.profiler.dialect import SNIFF_BYTES, Sniffed, sniff
from csvprof.profiler.parser import Parser
from csvprof.profiler.partial import PartialProfile
from csvprof.profiler.source import (
    Buffer,
    CountingSource,
    Utf8Transcoder,
    count_byte,
    last_row_end,
    read_head,
    row_chunks,
    utf16_encoding,
)
from csvprof.profiler.workers import ForkWorkers, ThreadWorkers, Workers, fork_available

# Each chunk pays a fixed cost (about a hundred kernel calls across its columns, their Python
# glue, and the merge into every column's state), so bigger chunks are faster and cost memory.
# Threads share the GIL, so that fixed cost weighs more on them and their chunks are bigger;
# for processes, bigger chunks than this bought little speed for much more memory.
THREAD_BLOCK_SIZE: Final = 8 * MiB
PROCESS_BLOCK_SIZE: Final = 6 * MiB
# Memory is read every RSS_SAMPLE_BYTES of input: each read walks every worker's page tables
# (smaps_rollup), so reading often takes a visible share of the main thread's time.
RSS_SAMPLE_BYTES: Final = 128 * MiB
# The first chunk's rows in its first HEAD_BYTES give the column names (see _head_end).
HEAD_BYTES: Final = 64 * 1024


# The cgroup's CPU quota: v2's `cpu.max` ("QUOTA PERIOD" in microseconds, QUOTA "max" for none), else v1's
# `cpu.cfs_quota_us` (-1 for none) and `cpu.cfs_period_us` in this directory.
CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
CGROUP_CPU_MAX: Final = CGROUP_ROOT / "cpu.max"
CGROUP_V1_CPU: Final = CGROUP_ROOT / "cpu"
PROC_CGROUP: Final = Path("/proc/self/cgroup")
_NOWHERE: Final = Path("/nonexistent")


def cpu_quota(cpu_max: Path = CGROUP_CPU_MAX, v1_dir: Path = CGROUP_V1_CPU) -> float | None:
    """CPUs the cgroup's quota allows (1.16 for "116000 100000"); None without a quota or a readable one."""
    try:
        fields = cpu_max.read_text().split()
    except OSError:
        try:
            fields = [(v1_dir / f"cpu.cfs_{name}_us").read_text().strip() for name in ("quota", "period")]
        except OSError:
            return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except (IndexError, ValueError):  # "max": no quota
        return None
    return quota / period if quota > 0 and period > 0 else None


def process_cpu_quota(proc_cgroup: Path = PROC_CGROUP, root: Path = CGROUP_ROOT) -> float | None:
    """The tightest CPU quota on this process's cgroup or any ancestor, v2 or v1; None without one.

    In Lambda or a container the process's cgroup is the mount's root; elsewhere (a systemd slice, a
    benchmark's nested cgroup) it is a directory below it, and a parent's quota binds the children too.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    candidates = [(CGROUP_CPU_MAX, _NOWHERE), (_NOWHERE, CGROUP_V1_CPU)] if root == CGROUP_ROOT else []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[2].startswith("/"):
            continue
        _, controllers, where = parts
        if controllers == "":  # v2's single hierarchy: "0::/path"
            at = [root / a for a in _ancestors(where)]
            candidates += [(d / "cpu.max", _NOWHERE) for d in at]
        elif "cpu" in controllers.split(","):
            candidates += [(_NOWHERE, root / "cpu" / a) for a in _ancestors(where)]
    quotas = [q for cpu_max, v1_dir in candidates if (q := cpu_quota(cpu_max, v1_dir)) is not None]
    return min(quotas, default=None)


def _ancestors(where: str) -> list[str]:
    """ "/a/b" -> ["", "a", "a/b"]: relative paths from the hierarchy's root down to the cgroup."""
    parts = [p for p in where.split("/") if p]
    return ["/".join(parts[:i]) for i in range(len(parts) + 1)]


def available_cpus(cpu_max: Path | None = None, v1_dir: Path | None = None) -> int:
    """Cores this process may use: the affinity mask (not the machine's core count), fewer under a CPU quota.

    A quota of q CPUs gives q rounded half up (1.16 -> 1, 2.5 -> 3: the half core is used, not left idle),
    at least 1 and at most the affinity mask's count. The quota is the process's own
    (`process_cpu_quota`), or the one in the files given.
    """
    if hasattr(os, "sched_getaffinity"):
        cores = max(1, len(os.sched_getaffinity(0)))
    else:
        cores = max(1, os.cpu_count() or 1)
    if cpu_max is None and v1_dir is None:
        quota = process_cpu_quota()
    else:
        quota = cpu_quota(cpu_max or _NOWHERE, v1_dir or _NOWHERE)
    if quota is None:
        return cores
    return max(1, min(cores, math.floor(quota + 0.5)))


class _Run:
    """State of one profile() call."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.limits = budget.limits
        self.peak_rss_mb = 0.0
        self._rss_at = -RSS_SAMPLE_BYTES

    def check(self, bytes_read: int, workers: Sequence[int] = (), final: bool = False) -> None:
        limits = self.limits
        if self.budget.remaining_s() < limits.stop_remaining_s:
            raise TimeLimitExceeded(f"stopped with less than {limits.stop_remaining_s} s left")
        if self.budget.progress is not None:
            self.budget.progress(bytes_read)
        if not final and bytes_read - self._rss_at < RSS_SAMPLE_BYTES:
            return
        self._rss_at = bytes_read
        rss = self.budget.rss_mb(workers)
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        if rss > limits.memory_budget_mb:
            raise MemoryLimitExceeded(f"resident memory {rss:.0f} MB exceeds {limits.memory_budget_mb} MB")


def check_size(size: int | None, limits: ProfileLimits) -> None:
    """EMPTY_FILE or FILE_TOO_LARGE from a size known up front, before anything is read."""
    if size == 0:
        raise EmptyFile("the file is empty (0 bytes)")
    if size is not None and size > limits.max_source_bytes:
        raise FileTooLarge(f"the file has {size} bytes; the limit is {limits.max_source_bytes}")


@dataclass(frozen=True, slots=True)
class Opened:
    """A source with its dialect sniffed: the UTF-8 body after any BOM, counting what is read."""

    stream: CountingSource
    sniffed: Sniffed
    transcoder: Utf8Transcoder | None  # a UTF-16 source is read through it

    @property
    def source_bytes(self) -> int:
        """Bytes read from the source as stored (before any transcoding)."""
        return self.transcoder.source_bytes if self.transcoder is not None else self.stream.bytes_read


def open_source(source: BinaryIO, limits: ProfileLimits) -> Opened:
    """Sniff the dialect from the head (UTF-16 transcoded to UTF-8 first) and check the limits it shows."""
    head, at_eof = read_head(source, SNIFF_BYTES)
    if len(head) > limits.max_source_bytes:
        raise FileTooLarge(f"the file is larger than {limits.max_source_bytes} bytes")
    utf16 = utf16_encoding(head)
    transcoder: Utf8Transcoder | None = None
    if utf16 is not None:  # everything downstream reads UTF-8
        transcoder = Utf8Transcoder(head, source, utf16)
        source = transcoder  # type: ignore[assignment]
        head, at_eof = read_head(source, SNIFF_BYTES)
    sniffed = sniff(head, at_eof, transcoded_from=utf16)
    if sniffed.field_count > limits.max_columns:
        raise TooManyColumns(f"{sniffed.field_count} columns; the limit is {limits.max_columns}")
    stream = CountingSource(
        head[sniffed.body_start :], source, consumed=len(head), max_bytes=limits.max_source_bytes
    )
    return Opened(stream, sniffed, transcoder)


@dataclass(frozen=True, slots=True)
class Folded:
    """What folding a stream gave: its header row's cells (when it held the header) and the partials."""

    header: list[str] | None
    partials: list[PartialProfile]


def fold(
    stream: io.RawIOBase | BinaryIO,
    parser: Parser,
    *,
    new_workers: Callable[[], Workers],
    after_chunk: Callable[[Workers], None] = lambda workers: None,
) -> Folded:
    """Every chunk of whole rows of `stream` parsed and folded by workers from `new_workers()`.

    The first chunk of a file (while `parser.names` is unset) gives the column names and the
    header first (_head_rows); `after_chunk` runs after each chunk handed out (the budget's checks).
    """
    dialect = parser.dialect
    terminator = b"\r" if dialect.line_terminator == "\r" else b"\n"
    quote = dialect.quote_char.encode()
    header: list[str] | None = None
    workers: Workers | None = None
    last_chunk: bytes | memoryview = b""

    def buffer(size: int) -> Buffer:
        # Once the workers exist they say where chunks go (shared slots, for processes).
        return workers.buffer(size) if workers is not None else bytearray(size)

    for chunk in row_chunks(stream, parser.block_size, terminator, quote, buffer):
        last_chunk = chunk
        if workers is None and parser.names is None:
            started = _start(parser, chunk, terminator, quote, new_workers)
            if started is None:
                continue  # blank lines only
            workers, header = started
        else:
            if workers is None:
                workers = new_workers()
            workers.submit(chunk)
        after_chunk(workers)
    # Every earlier chunk ends at even quote parity.
    if count_byte(last_chunk, quote[0]) % 2:
        raise CsvParseError("unbalanced quotes: a quoted field is never closed")
    return Folded(header, workers.finish() if workers is not None else [])


def _start(
    parser: Parser, chunk: memoryview, terminator: bytes, quote: bytes, new_workers: Callable[[], Workers]
) -> tuple[Workers, list[str] | None] | None:
    """Workers for a file whose first chunk this is, with the chunk handed to them, and its header.

    In a function of its own so that nothing outlives it that holds the chunk's buffer.
    """
    head = _head_rows(parser, chunk, terminator, quote)
    if head is None:
        return None
    workers = new_workers()
    workers.fold_head(head.columns, head.ragged)
    if len(head.rest):
        workers.submit(head.rest)
    return workers, head.header


@dataclass(frozen=True, slots=True)
class _Head:
    columns: list[Any]  # the head rows' parsed columns, header row dropped
    ragged: int
    header: list[str] | None
    rest: memoryview  # the chunk after the head rows: for the workers


def _head_rows(parser: Parser, chunk: memoryview, terminator: bytes, quote: bytes) -> _Head | None:
    """Parse a small head of whole rows here, for the column names; None for blank lines only.

    Only the head: the rest of the chunk goes to the workers like any other, so they start at
    once instead of waiting while this thread parses a whole chunk.
    """
    rows_end = _head_end(chunk, terminator, quote)
    table, ragged = parser.parse(chunk[:rows_end])
    if table.num_columns == 0 and rows_end < len(chunk):
        rows_end = len(chunk)
        table, ragged = parser.parse(chunk)
    if table.num_columns == 0:
        return None
    limit = parser.limits.max_columns
    if table.num_columns > limit:
        raise TooManyColumns(f"{table.num_columns} columns; the limit is {limit}")
    parser.names = list(table.column_names)
    header: list[str] | None = None
    if parser.dialect.header:
        header = [bytes(c[0].as_py()).decode() for c in table.columns]
        table = table.slice(1)
    return _Head(table.columns, ragged, header, chunk[rows_end:])


def _head_end(chunk: memoryview, terminator: bytes, quote: bytes) -> int:
    """End of the whole rows in the first HEAD_BYTES of a chunk (the whole chunk if none end there)."""
    if len(chunk) <= HEAD_BYTES:
        return len(chunk)
    end = last_row_end(bytes(chunk[:HEAD_BYTES]), terminator, quote)
    return end if end > 0 else len(chunk)


class ArrowProfileEngine:
    """Profiles a CSV stream: chunks of whole rows, parsed and folded by `workers` at once."""

    def __init__(
        self, block_size: int | None = None, workers: int | None = None, processes: bool | None = None
    ) -> None:
        """`workers` (default: every core we may use) fold chunks of `block_size` bytes at once,
        in forked processes when `processes` (default: where fork is safe), else in threads."""
        self.workers = max(1, workers if workers is not None else available_cpus())
        self.processes = fork_available() if processes is None else processes
        self.block_size = block_size

    def profile(
        self, source: BinaryIO, *, size: int | None, budget: Budget, dataset_id: DatasetId | None = None
    ) -> Profile:
        """The profile of the CSV in `source` (`size` bytes when known), within `budget`.

        Raises a ProfilingError (csvprof.errors) with its code for a file it cannot profile.
        """
        started = budget.clock()
        run = _Run(budget)
        check_size(size, budget.limits)
        run.check(0)
        opened = open_source(source, budget.limits)
        block_size = self.block_size or (PROCESS_BLOCK_SIZE if self.processes else THREAD_BLOCK_SIZE)
        parser = Parser(opened.sniffed, budget.limits, block_size)
        # Workers are closed (their processes reaped) after the profile is built: their exits
        # overlap the merge instead of delaying it.
        with contextlib.ExitStack() as workers_alive:
            folded = fold(
                opened.stream,
                parser,
                new_workers=lambda: self._workers(parser, run, workers_alive),
                after_chunk=lambda workers: run.check(opened.stream.bytes_read, workers.pids),
            )
            total = merge(folded.partials)
            source_bytes = opened.source_bytes
            run.check(source_bytes, final=True)
            return assemble(
                total,
                folded.header,
                dialect=opened.sniffed.dialect,
                source_bytes=source_bytes,
                dataset_id=dataset_id,
                generated_at=budget.now(),
                runtime=Runtime(
                    duration_ms=max(0, round((budget.clock() - started) * 1000)),
                    bytes_read=source_bytes,
                    rows=total.rows,
                    peak_rss_mb=round(run.peak_rss_mb, 1),
                ),
            )

    def _workers(self, parser: Parser, run: _Run, alive: contextlib.ExitStack) -> Workers:
        """New workers for this file, closed when `alive` exits."""
        limits = run.limits
        num_columns = len(parser.names or ())
        workers: Workers
        if self.processes and self.workers > 1:
            budget = run.budget
            workers = ForkWorkers(
                parser,
                self.workers,
                num_columns,
                limits.max_field_bytes,
                parser.block_size,
                wait_s=lambda: budget.remaining_s() - limits.stop_remaining_s,
            )
        else:
            workers = ThreadWorkers(parser, self.workers, num_columns, limits.max_field_bytes)
        alive.callback(workers.close)
        return workers
