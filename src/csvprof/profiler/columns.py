"""Per-column accumulators. Each is updated a chunk at a time and can `merge()`
another accumulator of the same column (a byte-range split profiled elsewhere)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import kll_doubles_sketch

from csvprof.profiler.sketches import FrequentValues
from csvprof.profiler.types import TYPE_NAMES, classify

TOP_K: Final = 10
KLL_K: Final = 200
QUANTILES: Final = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}


def _lo(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _hi(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


@dataclass(slots=True)
class MinMax:
    lo: Any = None
    hi: Any = None

    def update(self, values: Any) -> None:
        if values is not None and len(values):
            mm = pc.min_max(values)
            self.merge(MinMax(mm["min"].as_py(), mm["max"].as_py()))

    def merge(self, other: MinMax) -> None:
        self.lo, self.hi = _lo(self.lo, other.lo), _hi(self.hi, other.hi)


@dataclass(slots=True)
class Moments:
    """Count, mean and sum of squared deviations; merged with Chan et al.'s formula."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def update(self, x: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        if len(x):
            # Values near 1e308 overflow; the result is then reported as null, not as an error.
            with np.errstate(over="ignore", invalid="ignore"):
                mean = float(x.mean())
                self.merge(Moments(len(x), mean, float(np.square(x - mean).sum())))

    def merge(self, other: Moments) -> None:
        n = self.n + other.n
        if other.n == 0:
            return
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n

    def stddev(self) -> float | None:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


@dataclass(slots=True)
class ColumnAccumulator:
    """Everything profile.json reports about one column, as mergeable state."""

    null_count: int = 0
    empty_count: int = 0
    type_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPE_NAMES, 0))
    ints: MinMax = field(default_factory=MinMax)
    decimals: MinMax = field(default_factory=MinMax)
    dates: MinMax = field(default_factory=MinMax)
    datetimes: MinMax = field(default_factory=MinMax)
    text: MinMax = field(default_factory=MinMax)  # lexicographic, over every present value
    lengths: MinMax = field(default_factory=MinMax)
    length_sum: int = 0
    moments: Moments = field(default_factory=Moments)
    quantiles: Any = field(default_factory=lambda: kll_doubles_sketch(KLL_K))
    frequent: FrequentValues = field(default_factory=FrequentValues)

    def update(self, values: Any) -> None:
        """Fold in one chunk of raw cells (a pa.StringArray)."""
        chunk = classify(values, hint=self._leading_type())
        self.null_count += chunk.null_count
        self.empty_count += chunk.empty_count
        for name, n in chunk.counts.items():
            self.type_counts[name] += n
        present = chunk.present
        if len(present) == 0:
            return
        lengths = pc.utf8_length(present)
        self.lengths.update(lengths)
        self.length_sum += pc.sum(lengths).as_py()
        self.text.update(present)
        self.frequent.update(present)
        self.ints.update(chunk.integers)
        self.decimals.update(chunk.decimals)
        self.dates.update(chunk.dates)
        self.datetimes.update(chunk.datetimes)
        parts = [a.to_numpy().astype(np.float64) for a in (chunk.integers, chunk.decimals) if a is not None]
        if parts:
            numbers = np.concatenate(parts) if len(parts) > 1 else parts[0]
            self.moments.update(numbers)
            self.quantiles.update(numbers)

    def merge(self, other: ColumnAccumulator) -> None:
        self.null_count += other.null_count
        self.empty_count += other.empty_count
        for name, n in other.type_counts.items():
            self.type_counts[name] += n
        for mine, theirs in (
            (self.ints, other.ints),
            (self.decimals, other.decimals),
            (self.dates, other.dates),
            (self.datetimes, other.datetimes),
            (self.text, other.text),
            (self.lengths, other.lengths),
        ):
            mine.merge(theirs)
        self.length_sum += other.length_sum
        self.moments.merge(other.moments)
        self.quantiles.merge(other.quantiles)
        self.frequent.merge(other.frequent)

    def _leading_type(self) -> str | None:
        name, n = max(self.type_counts.items(), key=lambda kv: kv[1])
        return name if n else None

    def inferred_type(self) -> str:
        """Dominant family; integer+decimal count as one family, as do date+datetime."""
        c = self.type_counts
        families = {
            "numeric": c["integer"] + c["decimal"],
            "temporal": c["date"] + c["datetime"],
            "boolean": c["boolean"],
            "string": c["string"],
        }
        family, n = max(families.items(), key=lambda kv: kv[1])  # ties: first listed wins
        if n == 0:
            return "empty"
        if family == "numeric":
            return "decimal" if c["decimal"] else "integer"
        if family == "temporal":
            return "datetime" if c["datetime"] else "date"
        return family

    def _min_max(self, kind: str) -> tuple[Any, Any]:
        if kind == "integer":
            return self.ints.lo, self.ints.hi
        if kind == "decimal":
            lo, hi = _lo(self.ints.lo, self.decimals.lo), _hi(self.ints.hi, self.decimals.hi)
            return (None, None) if lo is None else (float(lo), float(hi))
        if kind == "date":
            return self.dates.lo, self.dates.hi
        if kind == "datetime":
            # Dates sort before any timestamp on the same day, so mixing is safe lexicographically.
            return _lo(self.dates.lo, self.datetimes.lo), _hi(self.dates.hi, self.datetimes.hi)
        return self.text.lo, self.text.hi

    def result(self, index: int, name: str, original_name: str | None) -> dict[str, Any]:
        kind = self.inferred_type()
        lo, hi = self._min_max(kind)
        numeric = kind in ("integer", "decimal")
        estimate, approximate, rel_err = self.frequent.distinct()
        present = sum(self.type_counts.values())
        quantiles: dict[str, Any] | None = None
        if numeric and not self.quantiles.is_empty():
            quantiles = {
                "approximate": self.quantiles.is_estimation_mode(),
                "rank_error": self.quantiles.normalized_rank_error(False),
                **{k: _finite(self.quantiles.get_quantile(q)) for k, q in QUANTILES.items()},
            }
        return {
            "index": index,
            "name": name,
            "original_name": original_name,
            "inferred_type": kind,
            "type_counts": dict(self.type_counts),
            "null_count": self.null_count,
            "empty_count": self.empty_count,
            "min": lo,
            "max": hi,
            "mean": _finite(self.moments.mean) if numeric and self.moments.n else None,
            "stddev": _finite(self.moments.stddev()) if numeric else None,
            "quantiles": quantiles,
            "length": None
            if present == 0
            else {"min": self.lengths.lo, "mean": self.length_sum / present, "max": self.lengths.hi},
            "distinct": {"estimate": estimate, "approximate": approximate, "relative_error": rel_err},
            "top_values": [{"value": v, "count": c} for v, c in self.frequent.top(TOP_K)],
            "top_values_approximate": not self.frequent.exact,
            "top_values_max_error": self.frequent.max_error,
        }


def string_chunk(column: Any) -> Any:
    """A batch column as one pa.StringArray (pyarrow yields string arrays, but be defensive)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column if column.type == pa.string() else pc.cast(column, pa.string())
