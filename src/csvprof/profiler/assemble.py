"""The merged partial profiles of one file, made into its `Profile`: built once, typed.

Each column's statistics come from its accumulator (`ColumnAccumulator.result`), the dataset's
from the merged partial, the warnings from both (warnings.py). The engine calls `merge` and
`assemble` once per file; the merge tests call them on partials of separate byte ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from csvprof.contracts.keys import DatasetId
from csvprof.contracts.profile import DatasetStats, Dialect, DuplicateRows, Engine, Profile, Runtime
from csvprof.errors import EmptyFile
from csvprof.profiler.partial import PartialProfile
from csvprof.profiler.warnings import quality_warnings

ENGINE_NAME: Final = "arrow"
ENGINE_VERSION: Final = "0.1.0"


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


def merge(partials: Sequence[PartialProfile]) -> PartialProfile:
    """profile(A) ⊕ profile(B) ⊕ ...: the partials merged, in order, into the first one."""
    if not partials:
        raise EmptyFile("the file has no rows")
    total = partials[0]
    for more in partials[1:]:
        total.merge(more)
    return total


def assemble(
    total: PartialProfile,
    header: list[str] | None,
    *,
    dialect: Dialect,
    source_bytes: int,
    dataset_id: DatasetId | None,
    generated_at: datetime,
    runtime: Runtime,
) -> Profile:
    """The profile of a file whose rows are all in `total`; `header`: its header row's cells."""
    names = column_names(header, total.num_columns)
    originals = header if header is not None else [None] * total.num_columns
    columns = tuple(acc.result(i, names[i], originals[i]) for i, acc in enumerate(total.columns))
    estimate, approximate, absolute_error = total.duplicate_rows()
    dataset = DatasetStats(
        rows=total.rows,
        columns=len(columns),
        bytes=source_bytes,
        ragged_rows=total.ragged_rows,
        duplicate_rows=DuplicateRows(estimate, approximate, absolute_error),
    )
    return Profile(
        dataset_id=dataset_id,
        generated_at=_rfc3339(generated_at),
        engine=Engine(ENGINE_NAME, ENGINE_VERSION),
        dialect=dialect,
        dataset=dataset,
        runtime=runtime,
        columns=columns,
        warnings=quality_warnings(header, dataset, columns, skipped_lines=dialect.skipped_lines),
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
