"""A partial profile: the mergeable state of some rows of one file.

profile(A) ⊕ profile(B) = profile(A + B): `PartialProfile.merge` adds counts, merges
sketches (KLL, HyperLogLog, Misra-Gries) and keeps min/max, so byte ranges of a file can
be profiled by different threads or processes and combined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csvprof.errors import FieldTooLarge
from csvprof.limits import MiB
from csvprof.profiler.columns import ColumnAccumulator
from csvprof.profiler.sketches import FrequentValues, HashDistinct, group_hashes, hash_strings
from csvprof.profiler.types import ByteView
from csvprof.profiler.words import I64, U64

# Column state (exact value counts) of all live partials shares STATE_BYTES, within these bounds
# a column per partial.
STATE_BYTES: Final = 192 * MiB
COLUMN_STATE_MAX: Final = 1 * MiB
COLUMN_STATE_MIN: Final = 64 * 1024
_ROW_MULT: Final = np.uint64(0x9E3779B97F4A7C15)


class PartialProfile:
    """Columns, row counts and a distinct-row sketch for the rows seen so far."""

    def __init__(self, num_columns: int, max_field_bytes: int, sharing: int = 1) -> None:
        """`sharing`: how many partials are alive at once; they split STATE_BYTES between them."""
        share = STATE_BYTES // max(1, num_columns * sharing)
        state_bytes = min(COLUMN_STATE_MAX, max(COLUMN_STATE_MIN, share))
        self.columns = [
            ColumnAccumulator(frequent=FrequentValues(max_bytes=state_bytes)) for _ in range(num_columns)
        ]
        self.max_field_bytes = max_field_bytes
        self.rows = 0
        self.ragged_rows = 0
        self.distinct_rows = HashDistinct()

    @property
    def num_columns(self) -> int:
        return len(self.columns)

    def update(self, columns: list[Any], ragged: int) -> list[float]:
        """Fold in one parsed chunk's text columns, taking them out of `columns` as it goes.

        Each column's buffers are freed once it is counted, so a chunk's memory shrinks while
        it is folded in. Returns each column's share of distinct values.
        """
        self.ragged_rows += ragged
        n = len(columns[0]) if columns else 0
        if n == 0:
            return [0.0] * len(columns)
        self.rows += n
        row_hash: U64 = np.zeros(n, np.uint64)
        shares: list[float] = []
        for acc in self.columns:
            batch = ColumnBatch.of(columns.pop(0))
            if len(batch.values) and ByteView(batch.values).lengths.max() > self.max_field_bytes:
                raise FieldTooLarge(f"a field is larger than {self.max_field_bytes} bytes")
            acc.update(batch.values, batch.counts, batch.hashes)
            with np.errstate(over="ignore"):
                row_hash = (row_hash * _ROW_MULT) ^ batch.row_hashes
            shares.append(len(batch.values) / n)
        self.distinct_rows.update(row_hash)
        return shares

    def settle(self) -> None:
        """Work out every column's counted cells now (ColumnAccumulator.settle): a worker does it
        before it sends its partial, so the work is shared out rather than left to the merge."""
        for acc in self.columns:
            acc.settle()

    def merge(self, other: PartialProfile) -> None:
        for mine, theirs in zip(self.columns, other.columns, strict=True):
            mine.merge(theirs)
        self.rows += other.rows
        self.ragged_rows += other.ragged_rows
        self.distinct_rows.merge(other.distinct_rows)

    def duplicate_rows(self) -> tuple[int, bool, int]:
        """(rows that repeat an earlier row, approximate, absolute error bound at 3 standard errors)."""
        distinct = self.distinct_rows
        if distinct.hll is None:
            return self.rows - distinct.estimate(), False, 0
        estimate = min(self.rows, distinct.estimate())
        return self.rows - estimate, True, round(3 * distinct.hll.relative_error * estimate)


@dataclass(frozen=True, slots=True)
class ColumnBatch:
    """One chunk of one column, as every statistic consumes it."""

    values: Any  # distinct values, a pa.StringArray
    counts: I64  # rows holding each value
    hashes: U64  # of each value
    row_hashes: U64  # of each row's value

    @classmethod
    def of(cls, column: Any) -> ColumnBatch:
        """From a parsed column: dictionary-encoded (low cardinality) or plain text (high).

        Plain columns are grouped by their 64-bit hashes, which they need anyway (rows grouped
        together are checked byte for byte, so a collision never merges two values); the parser
        skips building a dictionary for columns that are nearly all distinct, where building it
        was a large share of the whole chunk's parse.
        """
        arr = column
        if isinstance(column, pa.ChunkedArray):  # a one-block parse gives one chunk: no copy
            arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        if not pa.types.is_dictionary(arr.type):
            rows = _text(arr)
            return cls.grouped(rows, hash_strings(rows))
        values = _text(arr.dictionary)
        indices = arr.indices.to_numpy()
        counts = np.bincount(indices, minlength=len(values)).astype(np.int64)
        if len(counts) and counts.min() == 0:
            # A slice keeps its parent's dictionary: the header row's values are in it, unused.
            used = counts > 0
            remap = np.cumsum(used) - 1
            values, counts, indices = values.filter(pa.array(used)), counts[used], remap[indices]
        hashes = hash_strings(values)
        return cls(values, counts, hashes, hashes[indices])

    @classmethod
    def grouped(cls, rows: Any, row_hashes: U64) -> ColumnBatch:
        """Plain text rows grouped by their hashes; rows grouped together must be equal bytes."""
        groups = group_hashes(row_hashes)
        if groups.first is None:
            return cls(rows, groups.counts, row_hashes, row_hashes)
        same = pc.equal(rows.take(pa.array(groups.repeats)), rows.take(pa.array(groups.firsts_of_repeats)))
        if not pc.all(same).as_py():  # a 64-bit collision: let a dictionary tell the values apart
            return cls.of(pc.dictionary_encode(rows))
        return cls(rows.take(pa.array(groups.first)), groups.counts, row_hashes[groups.first], row_hashes)


def _text(arr: Any) -> Any:
    """The parser's binary columns hold UTF-8-checked text: the same buffers, as strings."""
    return arr.view(pa.string()) if arr.type == pa.binary() else arr
