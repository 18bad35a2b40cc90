"""The Arrow profiling engine: a CSV byte stream in, the profile.json document out.

Pure: every clock, memory probe and limit arrives in `Budget`. The stream is
parsed by pyarrow's streaming reader in ~1 MiB blocks with every column read as
text, and each block is folded into per-column accumulators (columns.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO, Final, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from csvprof.errors import (
    CsvParseError,
    EmptyFile,
    EncodingError,
    FieldTooLarge,
    FileTooLarge,
    MemoryLimitExceeded,
    TimeLimitExceeded,
    TooManyColumns,
)
from csvprof.limits import MiB, ProfileLimits
from csvprof.profiler.columns import ColumnAccumulator, string_chunk
from csvprof.profiler.dialect import SNIFF_BYTES, Sniffed, sniff
from csvprof.profiler.sketches import FrequentValues
from csvprof.profiler.source import CountingSource, read_head

ENGINE_NAME: Final = "arrow"
ENGINE_VERSION: Final = "0.1.0"
SCHEMA_VERSION: Final = "1"
# Larger blocks cost memory without speed: 32 MiB blocks peaked at 1.2 GB RSS on a 1 GB file.
DEFAULT_BLOCK_SIZE: Final = 1 * MiB
# Column state (exact value counts) shares this much memory, at most 1 MiB and at least 64 KiB a column.
STATE_BYTES: Final = 192 * MiB


@dataclass(frozen=True, slots=True)
class Budget:
    """What the engine may spend, and the probes it measures itself with."""

    limits: ProfileLimits
    remaining_s: Callable[[], float]
    rss_mb: Callable[[], float]
    clock: Callable[[], float]
    now: Callable[[], datetime]
    progress: Callable[[int], None] | None = None


class ProfileEngine(Protocol):
    def profile(self, source: BinaryIO, *, size: int | None, budget: Budget) -> dict[str, Any]: ...


class _RaggedRows:
    """invalid_row_handler: counts rows with the wrong number of fields and skips them."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()  # Arrow may call from its parser threads

    def __call__(self, row: Any) -> str:
        with self._lock:
            self.count += 1
        return "skip"


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


def _arrow_error(exc: pa.ArrowInvalid) -> Exception:
    # Arrow reports these conditions only through ArrowInvalid's text.
    text = str(exc)
    if "straddl" in text:
        return FieldTooLarge(f"a row is larger than the parser's block ({DEFAULT_BLOCK_SIZE} bytes)")
    if "UTF8" in text or "utf8" in text.lower():
        return EncodingError("the file is not valid UTF-8 text")
    if "Empty CSV file" in text:
        return EmptyFile("the file has no rows")
    return CsvParseError(f"the CSV could not be parsed: {text}")


class _Run:
    """State of one profile() call."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.limits = budget.limits
        self.peak_rss_mb = 0.0

    def check(self, bytes_read: int) -> None:
        limits = self.limits
        if self.budget.remaining_s() < limits.stop_remaining_s:
            raise TimeLimitExceeded(f"stopped with less than {limits.stop_remaining_s} s left")
        rss = self.budget.rss_mb()
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        if rss > limits.memory_budget_mb:
            raise MemoryLimitExceeded(f"resident memory {rss:.0f} MB exceeds {limits.memory_budget_mb} MB")
        if self.budget.progress is not None:
            self.budget.progress(bytes_read)


def _accumulators(n: int, limits: ProfileLimits) -> list[ColumnAccumulator]:
    if n > limits.max_columns:
        raise TooManyColumns(f"{n} columns; the limit is {limits.max_columns}")
    state_bytes = min(MiB, max(64 * 1024, STATE_BYTES // n))
    return [ColumnAccumulator(frequent=FrequentValues(max_bytes=state_bytes)) for _ in range(n)]


def _update_column(acc: ColumnAccumulator, column: Any, max_field_bytes: int) -> None:
    values = string_chunk(column)
    if len(values) and pc.max(pc.binary_length(values)).as_py() > max_field_bytes:
        raise FieldTooLarge(f"a field is larger than {max_field_bytes} bytes")
    acc.update(values)


class ArrowProfileEngine:
    """`threads` columns are profiled at once: Arrow kernels release the GIL."""

    def __init__(self, block_size: int = DEFAULT_BLOCK_SIZE, threads: int = 2) -> None:
        self.block_size = block_size
        self.threads = max(1, threads)

    def profile(self, source: BinaryIO, *, size: int | None, budget: Budget) -> dict[str, Any]:
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
        sniffed = sniff(head, at_eof)
        if sniffed.field_count > limits.max_columns:
            raise TooManyColumns(f"{sniffed.field_count} columns; the limit is {limits.max_columns}")
        stream = CountingSource(
            head[sniffed.bom_bytes :],
            source,
            consumed=len(head),
            max_bytes=limits.max_source_bytes,
            quote=sniffed.dialect.quote_char.encode(),
        )
        ragged = _RaggedRows()

        accumulators: list[ColumnAccumulator] = []
        header: list[str] | None = None
        rows = 0
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="csvprof-col") as pool:
            for batch in self._batches(stream, sniffed, ragged, run):
                if not accumulators:
                    accumulators = _accumulators(batch.num_columns, limits)
                    if sniffed.dialect.header:
                        header = [string_chunk(c)[0].as_py() for c in batch.columns]
                        batch = batch.slice(1)
                rows += batch.num_rows
                jobs = [
                    pool.submit(_update_column, acc, column, limits.max_field_bytes)
                    for acc, column in zip(accumulators, batch.columns, strict=True)
                ]
                for job in jobs:
                    job.result()  # re-raises FieldTooLarge
                run.check(stream.bytes_read)

        if stream.quotes % 2:
            raise CsvParseError("unbalanced quotes: a quoted field is never closed")
        if not accumulators:
            raise EmptyFile("the file has no rows")
        names = column_names(header, len(accumulators))
        columns = [
            acc.result(i, names[i], header[i] if header is not None else None)
            for i, acc in enumerate(accumulators)
        ]
        run.check(stream.bytes_read)
        return {
            "schema_version": SCHEMA_VERSION,
            "dataset_id": None,
            "generated_at": _rfc3339(budget.now()),
            "engine": {"name": ENGINE_NAME, "version": ENGINE_VERSION},
            "dialect": sniffed.dialect.as_dict(),
            "dataset": {
                "rows": rows,
                "columns": len(columns),
                "bytes": stream.bytes_read,
                "ragged_rows": ragged.count,
            },
            "runtime": {
                "duration_ms": max(0, round((budget.clock() - started) * 1000)),
                "bytes_read": stream.bytes_read,
                "rows": rows,
                "peak_rss_mb": round(run.peak_rss_mb, 1),
            },
            "columns": columns,
        }

    def _batches(
        self, stream: CountingSource, sniffed: Sniffed, ragged: _RaggedRows, run: _Run
    ) -> Iterator[Any]:
        """Record batches of string columns; maps Arrow and codec failures to csvprof errors."""
        dialect = sniffed.dialect
        n_types = max(sniffed.field_count, run.limits.max_columns) + 1
        read_options = pacsv.ReadOptions(block_size=self.block_size, autogenerate_column_names=True)
        parse_options = pacsv.ParseOptions(
            delimiter=dialect.delimiter,
            quote_char=dialect.quote_char,
            newlines_in_values=True,  # quoted newlines can appear anywhere in the file
            invalid_row_handler=ragged,
        )
        # Arrow fixes column types from the first block, so read text and classify ourselves.
        convert_options = pacsv.ConvertOptions(
            column_types={f"f{i}": pa.string() for i in range(n_types)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        native: Any = pa.PythonFile(stream, mode="r")
        if dialect.encoding == "cp1252":
            native = pa.transcoding_input_stream(native, "cp1252", "utf-8")
        try:
            reader = pacsv.open_csv(
                native,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                yield batch
        except pa.ArrowInvalid as exc:
            raise _arrow_error(exc) from exc
        except UnicodeError as exc:
            raise EncodingError(f"the file is not valid {dialect.encoding} text") from exc


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
