"""The Arrow profiling engine: a CSV byte stream in, the profile.json document out.

Pure: every clock, memory probe and limit arrives in `Budget`. The main thread
cuts the stream into chunks of whole rows (a quote-parity scan, so quoted
newlines never split a row); `workers` (forked processes, or threads: workers.py)
each parse a chunk with Arrow (every column as text) and fold it into their own
partial profile. The partials are merged at the end: the same merge that combines
profiles of separate byte ranges (partial.py).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final

from csvprof.contracts.keys import DatasetId
from csvprof.contracts.profile import Profile
from csvprof.domain.ports import Budget
from csvprof.errors import (
    CsvParseError,
    EmptyFile,
    FileTooLarge,
    MemoryLimitExceeded,
    TimeLimitExceeded,
    TooManyColumns,
)
from csvprof.limits import MiB
from csvprof.profiler.dialect import SNIFF_BYTES, sniff
from csvprof.profiler.parser import Parser
from csvprof.profiler.partial import PartialProfile, quality_warnings
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

ENGINE_NAME: Final = "arrow"
ENGINE_VERSION: Final = "0.1.0"
SCHEMA_VERSION: Final = "1"
# Each chunk pays a fixed cost (about a hundred kernel calls across its columns, their Python
# glue, and the merge into every column's state), so bigger chunks are faster and cost memory.
# Threads share the GIL, so that cost weighs more on them. Alternating runs on 2 cores,
# generated 1 GB file (memory: the process tree's, sampled every 100 ms, for processes):
#   threads   6 MiB: 151-164 MB/s, peak RSS 185-191 MB
#   threads   8 MiB: 160-183 MB/s, peak RSS 208-217 MB
#   processes 4 MiB: 4.92 s, 182 MB;  6 MiB: 4.46-4.56 s, 212 MB
#   processes 8 MiB: 4.60 s, 237 MB; 12 MiB: 4.55 s, 284 MB
THREAD_BLOCK_SIZE: Final = 8 * MiB
PROCESS_BLOCK_SIZE: Final = 6 * MiB
# Memory is read every RSS_SAMPLE_BYTES of input: each worker's smaps_rollup walks its page
# tables (about 3.5 ms a worker). At 16 MiB those reads took 0.24 s of the parent's CPU on a
# 1 GB file (4.39 s against 4.23-4.27 s without them); at 64 MiB, still 1 % of all samples.
RSS_SAMPLE_BYTES: Final = 128 * MiB
# The first chunk's rows in its first HEAD_BYTES give the column names (see _head_end).
HEAD_BYTES: Final = 64 * 1024


def column_names(header: list[str] | None, n: int) -> list[str]:
    """Unique, non-blank names: blanks become column_<i>, repeats get _2, _3, ..."""
    names: list[str] = []
    taken: set[str] = set()
    for i in range(n):
        base = (header[i] if header is not None and i < len(header) else "").strip() or f"column_{i + 1}"
        name, k = base, 2
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        taken.add(name)
        names.append(name)
    return names


def available_cpus() -> int:
    """Cores this process may run on (the affinity mask, not the machine's core count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


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
        body = self._profile(source, size=size, budget=budget, cuts=())
        return Profile.from_dict({**body, "dataset_id": dataset_id})

    def profile_ranges(self, data: bytes, cuts: Sequence[int], *, budget: Budget) -> dict[str, Any]:
        """profile(A) ⊕ profile(B) ⊕ ...: `data` cut at byte offsets `cuts` (row boundaries).

        Each range is folded into its own PartialProfile and the partials are merged in
        order, as byte ranges profiled by separate workers would be. The merge tests use
        this to check that merging gives the single-pass answer.
        """
        return self._profile(io.BytesIO(data), size=len(data), budget=budget, cuts=tuple(cuts))

    def _profile(
        self, source: BinaryIO, *, size: int | None, budget: Budget, cuts: tuple[int, ...]
    ) -> dict[str, Any]:
        started = budget.clock()
        limits = budget.limits
        run = _Run(budget)
        if size == 0:
            raise EmptyFile("the file is empty (0 bytes)")
        if size is not None and size > limits.max_source_bytes:
            raise FileTooLarge(f"the file has {size} bytes; the limit is {limits.max_source_bytes}")
        run.check(0)

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
        dialect = sniffed.dialect
        stream = CountingSource(
            head[sniffed.bom_bytes :],
            source,
            consumed=len(head),
            max_bytes=limits.max_source_bytes,
        )
        block_size = self.block_size or (PROCESS_BLOCK_SIZE if self.processes else THREAD_BLOCK_SIZE)
        parser = Parser(sniffed, limits, block_size)
        terminator = b"\r" if dialect.line_terminator == "\r" else b"\n"
        quote = dialect.quote_char.encode()
        if cuts:
            whole = stream.readall()
            edges = [0, *(c - sniffed.bom_bytes for c in cuts), len(whole)]
            ranges: list[BinaryIO | io.RawIOBase] = [
                io.BytesIO(whole[a:b]) for a, b in itertools.pairwise(edges)
            ]
        else:
            ranges = [stream]
        # Workers are closed (their processes reaped) after the result is built: their exits
        # overlap the merge instead of delaying it.
        with contextlib.ExitStack() as workers_alive:
            header: list[str] | None = None
            finished: list[PartialProfile] = []
            last_chunk: bytes | memoryview = b""
            for byte_range in ranges:
                # Each range has its own workers and partials, as a separate worker would.
                workers: Workers | None = None

                def buffer(size: int) -> Buffer:
                    # Once this range's workers exist they say where chunks go (shared slots, for
                    # processes): bound late on purpose.
                    return workers.buffer(size) if workers is not None else bytearray(size)  # noqa: B023

                for chunk in row_chunks(byte_range, block_size, terminator, quote, buffer):
                    last_chunk = chunk
                    if workers is not None:
                        workers.submit(chunk)
                    elif parser.names is not None:
                        workers = self._workers(parser, run, block_size, cuts, workers_alive)
                        workers.submit(chunk)
                    else:
                        # Names come from a small head of whole rows, parsed here; the rest of the
                        # chunk goes to the workers like any other, so they start at once
                        # (parsing all 8 MiB here kept them idle for 46 ms of a 0.58 s run).
                        rows_end = _head_end(chunk, terminator, quote)
                        table, ragged = parser.parse(chunk[:rows_end])
                        if table.num_columns == 0 and rows_end < len(chunk):
                            rows_end = len(chunk)
                            table, ragged = parser.parse(chunk)
                        if table.num_columns == 0:
                            continue  # blank lines only
                        if table.num_columns > limits.max_columns:
                            raise TooManyColumns(
                                f"{table.num_columns} columns; the limit is {limits.max_columns}"
                            )
                        parser.names = list(table.column_names)
                        if dialect.header:
                            header = [bytes(c[0].as_py()).decode() for c in table.columns]
                            table = table.slice(1)
                        workers = self._workers(parser, run, block_size, cuts, workers_alive)
                        columns = table.columns
                        del table  # its columns are freed as they are folded
                        workers.fold_head(columns, ragged)
                        if rows_end < len(chunk):
                            workers.submit(chunk[rows_end:])
                    run.check(stream.bytes_read, workers.pids if workers is not None else ())
                if workers is not None:
                    finished.extend(workers.finish())

            # Every earlier chunk ends at even quote parity.
            if count_byte(last_chunk, quote[0]) % 2:
                raise CsvParseError("unbalanced quotes: a quoted field is never closed")
            if not finished:
                raise EmptyFile("the file has no rows")
            total = finished[0]
            for more in finished[1:]:
                total.merge(more)
            names = column_names(header, total.num_columns)
            columns = [
                acc.result(i, names[i], header[i] if header is not None else None)
                for i, acc in enumerate(total.columns)
            ]
            duplicates, dup_approximate, dup_error = total.duplicate_rows()
            source_bytes = transcoder.source_bytes if transcoder is not None else stream.bytes_read
            dataset = {
                "rows": total.rows,
                "columns": len(columns),
                "bytes": source_bytes,
                "ragged_rows": total.ragged_rows,
                "duplicate_rows": {
                    "estimate": duplicates,
                    "approximate": dup_approximate,
                    "absolute_error": dup_error,
                },
            }
            run.check(source_bytes, final=True)
            return {
                "schema_version": SCHEMA_VERSION,
                "dataset_id": None,
                "generated_at": _rfc3339(budget.now()),
                "engine": {"name": ENGINE_NAME, "version": ENGINE_VERSION},
                "dialect": dialect.as_dict(),
                "dataset": dataset,
                "runtime": {
                    "duration_ms": max(0, round((budget.clock() - started) * 1000)),
                    "bytes_read": source_bytes,
                    "rows": total.rows,
                    "peak_rss_mb": round(run.peak_rss_mb, 1),
                },
                "columns": columns,
                "warnings": quality_warnings(header, dataset, columns),
            }

    def _workers(
        self, parser: Parser, run: _Run, block_size: int, cuts: tuple[int, ...], alive: contextlib.ExitStack
    ) -> Workers:
        """New workers for one byte range, closed when `alive` exits."""
        limits = run.limits
        num_columns = len(parser.names or ())
        workers: Workers
        if cuts:  # one partial per range, as the merge tests mean
            workers = ThreadWorkers(parser, 1, num_columns, limits.max_field_bytes)
        elif self.processes and self.workers > 1:
            budget = run.budget
            workers = ForkWorkers(
                parser,
                self.workers,
                num_columns,
                limits.max_field_bytes,
                block_size,
                wait_s=lambda: budget.remaining_s() - limits.stop_remaining_s,
            )
        else:
            workers = ThreadWorkers(parser, self.workers, num_columns, limits.max_field_bytes)
        alive.callback(workers.close)
        return workers


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
