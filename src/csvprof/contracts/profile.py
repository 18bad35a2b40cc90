"""profile.json contract: the document the worker writes to `profiles/{dataset_id}/profile.json`.

Typed, and built once: the profiler's accumulators produce the `ColumnProfile`s, the engine
the `Profile` around them (with its `dataset_id` when the service profiles a dataset), and
`to_dict()` is the JSON body. `contracts/profile.schema.json` describes the same document;
the contract tests validate what `to_dict()` gives for real files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, Final

from csvprof.contracts.keys import DatasetId

SCHEMA_VERSION: Final = "1"

Scalar = int | float | str | None
Number = int | float | bool


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Dialect:
    """How the file was read: sniffed from its head."""

    encoding: str
    delimiter: str
    quote_char: str
    header: bool
    line_terminator: str
    # Lines of title or notes before the table, skipped (0 in profiles written before the field).
    skipped_lines: int = 0


@dataclass(frozen=True, slots=True)
class DuplicateRows:
    estimate: int
    approximate: bool
    absolute_error: int


@dataclass(frozen=True, slots=True)
class DatasetStats:
    rows: int
    columns: int
    bytes: int
    ragged_rows: int
    duplicate_rows: DuplicateRows


@dataclass(frozen=True, slots=True)
class Runtime:
    duration_ms: int
    bytes_read: int
    rows: int
    peak_rss_mb: float


@dataclass(frozen=True, slots=True)
class Quantiles:
    approximate: bool
    rank_error: float
    p01: float | None
    p05: float | None
    p25: float | None
    p50: float | None
    p75: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class Bin:
    lower: float
    upper: float
    count: int


@dataclass(frozen=True, slots=True)
class Histogram:
    approximate: bool
    rank_error: float
    bins: tuple[Bin, ...]


@dataclass(frozen=True, slots=True)
class Length:
    min: int
    mean: float
    max: int


@dataclass(frozen=True, slots=True)
class Distinct:
    estimate: int
    approximate: bool
    relative_error: float


@dataclass(frozen=True, slots=True)
class TopValue:
    value: str
    count: int


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """Everything the profile says about one column (`columns[]` in the schema)."""

    index: int
    name: str
    original_name: str | None
    inferred_type: str
    mixed: bool
    type_counts: dict[str, int]
    null_count: int
    empty_count: int
    min: Scalar
    max: Scalar
    mean: float | None
    stddev: float | None
    sum: float | None
    zeros: int | None
    negatives: int | None
    quantiles: Quantiles | None
    histogram: Histogram | None
    length: Length | None
    leading_zeros: int
    whitespace_padded: int
    distinct: Distinct
    top_values: tuple[TopValue, ...]
    top_values_approximate: bool
    top_values_max_error: int

    @property
    def present(self) -> int:
        """Values that are neither null nor empty."""
        return sum(self.type_counts.values())


@dataclass(frozen=True, slots=True)
class QualityWarning:
    code: str
    column: str | None
    message: str
    numbers: dict[str, Number]


@dataclass(frozen=True, slots=True)
class Profile:
    """profile.json. `dataset_id` is None when the engine profiles a file outside the service."""

    dataset_id: DatasetId | None
    generated_at: str
    engine: Engine
    dialect: Dialect
    dataset: DatasetStats
    runtime: Runtime
    columns: tuple[ColumnProfile, ...]
    warnings: tuple[QualityWarning, ...]
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (the schema's order: the version first)."""
        body = asdict(self, dict_factory=_json_dict)
        return {"schema_version": body.pop("schema_version"), **body}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Profile:
        """A profile read back (for example from the API); the inverse of to_dict."""
        return cls(
            dataset_id=DatasetId(body["dataset_id"]) if body["dataset_id"] is not None else None,
            generated_at=body["generated_at"],
            engine=Engine(**body["engine"]),
            dialect=Dialect(**body["dialect"]),
            dataset=_dataset(body["dataset"]),
            runtime=Runtime(**body["runtime"]),
            columns=tuple(_column(c) for c in body["columns"]),
            warnings=tuple(QualityWarning(**w) for w in body["warnings"]),
            schema_version=body["schema_version"],
        )


def _json_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    # asdict keeps tuples as tuples; JSON (and a JSON Schema validator) wants arrays as lists.
    return {k: list(v) if isinstance(v, tuple) else v for k, v in items}


def _dataset(body: dict[str, Any]) -> DatasetStats:
    return DatasetStats(**{**body, "duplicate_rows": DuplicateRows(**body["duplicate_rows"])})


_NESTED: Final[dict[str, Callable[[Any], Any]]] = {
    "quantiles": lambda v: Quantiles(**v),
    "histogram": lambda v: Histogram(v["approximate"], v["rank_error"], tuple(Bin(**b) for b in v["bins"])),
    "length": lambda v: Length(**v),
    "distinct": lambda v: Distinct(**v),
    "top_values": lambda v: tuple(TopValue(**t) for t in v),
}


def _column(body: dict[str, Any]) -> ColumnProfile:
    values = {f.name: body[f.name] for f in fields(ColumnProfile)}
    for name, build in _NESTED.items():
        if values[name] is not None:
            values[name] = build(values[name])
    return ColumnProfile(**values)
