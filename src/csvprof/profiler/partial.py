"""A partial profile: the mergeable state of some rows of one file, and the quality warnings.

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
from csvprof.profiler.columns import ColumnAccumulator
from csvprof.profiler.sketches import FrequentValues, HashDistinct, group_hashes, hash_strings
from csvprof.profiler.types import ByteView
from csvprof.profiler.words import I64, U64

# Column state (exact value counts) of all live partials shares this much memory: at most 1 MiB and
# at least 64 KiB a column per partial.
STATE_BYTES: Final = 192 * 1024 * 1024
_ROW_MULT: Final = np.uint64(0x9E3779B97F4A7C15)

HIGH_NULL_RATIO: Final = 0.5
HIGH_CARDINALITY_RATIO: Final = 0.9  # distinct / present for string columns
HIGH_CARDINALITY_MIN: Final = 1_000  # ... with at least this many distinct values


class PartialProfile:
    """Columns, row counts and a distinct-row sketch for the rows seen so far."""

    def __init__(self, num_columns: int, max_field_bytes: int, sharing: int = 1) -> None:
        """`sharing`: how many partials are alive at once; they split STATE_BYTES between them."""
        state_bytes = min(1 << 20, max(64 * 1024, STATE_BYTES // max(1, num_columns * sharing)))
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
        skips building a dictionary for columns that are nearly all distinct (8.7 ms of a
        19 ms chunk parse went to the dictionaries of the six such columns of the test file).
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


def _warning(code: str, column: str | None, message: str, **numbers: Any) -> dict[str, Any]:
    return {"code": code, "column": column, "message": message, "numbers": numbers}


def quality_warnings(
    header: list[str] | None, dataset: dict[str, Any], columns: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Data-quality findings, each with a code and the numbers behind it."""
    found: list[dict[str, Any]] = []
    rows = dataset["rows"]
    if dataset["ragged_rows"]:
        found.append(
            _warning(
                "RAGGED_ROWS", None, "rows with a different field count were skipped",
                ragged_rows=dataset["ragged_rows"], rows=rows,
            )
        )  # fmt: skip
    if header is not None:
        seen: dict[str, int] = {}
        for cell in header:
            key = cell.strip()
            seen[key] = seen.get(key, 0) + 1
        for name, times in seen.items():
            if times > 1:
                found.append(
                    _warning(
                        "DUPLICATE_COLUMN_NAMES", name or None, "a header name appears more than once",
                        occurrences=times,
                    )
                )  # fmt: skip
    if rows == 0:
        return found
    for col in columns:
        name = col["name"]
        absent = col["null_count"] + col["empty_count"]
        present = rows - absent
        distinct = col["distinct"]["estimate"]
        if present == 0:
            found.append(_warning("ALL_NULL", name, "every value is null or empty", rows=rows))
            continue
        if absent / rows > HIGH_NULL_RATIO:
            found.append(
                _warning(
                    "HIGH_NULL_RATIO", name, f"more than {HIGH_NULL_RATIO:.0%} of values are null or empty",
                    null_or_empty=absent, rows=rows, ratio=absent / rows,
                )
            )  # fmt: skip
        if distinct == 1 and not col["distinct"]["approximate"]:
            found.append(
                _warning("CONSTANT", name, "every present value is the same", distinct=1, present=present)
            )
        if present > 1 and not col["distinct"]["approximate"] and distinct == present:
            found.append(
                _warning("UNIQUE", name, "every value is distinct", distinct=distinct, present=present)
            )
        elif (
            col["inferred_type"] == "string"
            and distinct >= HIGH_CARDINALITY_MIN
            and distinct >= HIGH_CARDINALITY_RATIO * present
        ):
            found.append(
                _warning(
                    "HIGH_CARDINALITY", name, "almost every value is different (an id or free text?)",
                    distinct=distinct, present=present, approximate=col["distinct"]["approximate"],
                    relative_error=col["distinct"]["relative_error"],
                )
            )  # fmt: skip
        if col["mixed"]:
            found.append(
                _warning(
                    "MIXED_TYPES", name, "no type holds 95% of the present values",
                    **{k: v for k, v in col["type_counts"].items() if v},
                )
            )  # fmt: skip
        if col["leading_zeros"]:
            found.append(
                _warning(
                    "LEADING_ZEROS", name, "digit strings with a leading zero (kept as text, not numbers)",
                    values=col["leading_zeros"], present=present,
                )
            )  # fmt: skip
        if col["whitespace_padded"]:
            found.append(
                _warning(
                    "WHITESPACE_PADDING", name, "values with leading or trailing whitespace",
                    values=col["whitespace_padded"], present=present,
                )
            )  # fmt: skip
    return found
