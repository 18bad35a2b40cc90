"""Data-quality warnings: findings read off the finished profile, each with the numbers behind it.

docs/data-contracts.md lists the codes and when each is raised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from csvprof.contracts.profile import ColumnProfile, DatasetStats, Number, QualityWarning

HIGH_NULL_RATIO: Final = 0.5
HIGH_CARDINALITY_RATIO: Final = 0.9  # distinct / present for string columns
HIGH_CARDINALITY_MIN: Final = 1_000  # ... with at least this many distinct values


def _warning(code: str, column: str | None, message: str, **numbers: Number) -> QualityWarning:
    return QualityWarning(code, column, message, numbers)


def quality_warnings(
    header: list[str] | None,
    dataset: DatasetStats,
    columns: Sequence[ColumnProfile],
    *,
    skipped_lines: int = 0,
) -> tuple[QualityWarning, ...]:
    """Data-quality findings: the file's first, then each column's in column order.

    `skipped_lines`: lines of title or notes the sniffer skipped before the table."""
    found = [*_file_warnings(header, dataset, skipped_lines)]
    if dataset.rows:
        for col in columns:
            found.extend(_column_warnings(col, dataset.rows))
    return tuple(found)


def _file_warnings(
    header: list[str] | None, dataset: DatasetStats, skipped_lines: int
) -> list[QualityWarning]:
    found: list[QualityWarning] = []
    if skipped_lines:
        found.append(
            _warning(
                "PREAMBLE_SKIPPED", None, "lines of title or notes before the table were skipped",
                lines=skipped_lines,
            )
        )  # fmt: skip
    if dataset.ragged_rows:
        found.append(
            _warning(
                "RAGGED_ROWS", None, "rows with a different field count were skipped",
                ragged_rows=dataset.ragged_rows, rows=dataset.rows,
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
    return found


def _column_warnings(col: ColumnProfile, rows: int) -> list[QualityWarning]:
    name = col.name
    absent = col.null_count + col.empty_count
    present = rows - absent
    if present == 0:
        return [_warning("ALL_NULL", name, "every value is null or empty", rows=rows)]
    found: list[QualityWarning] = []
    if absent / rows > HIGH_NULL_RATIO:
        found.append(
            _warning(
                "HIGH_NULL_RATIO", name, f"more than {HIGH_NULL_RATIO:.0%} of values are null or empty",
                null_or_empty=absent, rows=rows, ratio=absent / rows,
            )
        )  # fmt: skip
    found.extend(_distinct_warnings(col, present))
    if col.mixed:
        found.append(
            _warning(
                "MIXED_TYPES", name, "no type holds 95% of the present values",
                **{k: v for k, v in col.type_counts.items() if v},
            )
        )  # fmt: skip
    if col.leading_zeros:
        found.append(
            _warning(
                "LEADING_ZEROS", name, "digit strings with a leading zero (kept as text, not numbers)",
                values=col.leading_zeros, present=present,
            )
        )  # fmt: skip
    if col.whitespace_padded:
        found.append(
            _warning(
                "WHITESPACE_PADDING", name, "values with leading or trailing whitespace",
                values=col.whitespace_padded, present=present,
            )
        )  # fmt: skip
    return found


def _distinct_warnings(col: ColumnProfile, present: int) -> list[QualityWarning]:
    name, distinct = col.name, col.distinct
    found: list[QualityWarning] = []
    if distinct.estimate == 1 and not distinct.approximate:
        found.append(
            _warning("CONSTANT", name, "every present value is the same", distinct=1, present=present)
        )
    if present > 1 and not distinct.approximate and distinct.estimate == present:
        found.append(
            _warning("UNIQUE", name, "every value is distinct", distinct=distinct.estimate, present=present)
        )
    elif (
        col.inferred_type == "string"
        and distinct.estimate >= HIGH_CARDINALITY_MIN
        and distinct.estimate >= HIGH_CARDINALITY_RATIO * present
    ):
        found.append(
            _warning(
                "HIGH_CARDINALITY", name, "almost every value is different (an id or free text?)",
                distinct=distinct.estimate, present=present, approximate=distinct.approximate,
                relative_error=distinct.relative_error,
            )
        )  # fmt: skip
    return found
