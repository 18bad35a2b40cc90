"""Per-column accumulators. Each is fed one batch at a time as (distinct values, counts), so
every statistic costs work per distinct value, and can `merge()` another accumulator of the
same column (a byte range profiled by another thread or process)."""

from __future__ import annotations

import copyreg
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import kll_doubles_sketch

from csvprof.contracts.profile import Bin, ColumnProfile, Distinct, Histogram, Length, Quantiles, TopValue
from csvprof.profiler.sketches import CountTable, FrequentValues
from csvprof.profiler.types import NULL_MARKERS, TYPE_NAMES, ByteView, classify
from csvprof.profiler.words import I64, U64

TOP_K: Final = 10
# A column is only counted (ColumnAccumulator.pending) while it has at most this many distinct cells:
# past it, a column's cells mostly differ from chunk to chunk, and its table would cost memory for little.
PENDING_VALUES: Final = 4096
KLL_K: Final = 200
HISTOGRAM_BINS: Final = 20
# Values repeated for the KLL sketch at a time (_repeated).
REPEAT_BLOCK: Final = 1 << 16
# A column is `mixed` when no type family holds this share of the present values.
MIXED_BELOW: Final = 0.95
QUANTILES: Final = {
    "p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99,
}  # fmt: skip


def _kll_from_bytes(data: bytes) -> Any:
    return kll_doubles_sketch.deserialize(data)


# Partials travel between processes pickled; datasketches objects pickle through their own bytes.
copyreg.pickle(kll_doubles_sketch, lambda sketch: (_kll_from_bytes, (sketch.serialize(),)))
_NULL_SET: Final = pa.array(NULL_MARKERS, type=pa.string())
_ASCII_SPACE: Final = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 32]] = True
_NULL_FIRST: Final = np.zeros(256, dtype=bool)
_NULL_FIRST[list({ord(m[0]) for m in NULL_MARKERS})] = True
_NULL_MAX_BYTES: Final = max(len(m.encode()) for m in NULL_MARKERS)
# First UTF-8 bytes of every code point pc.utf8_is_space accepts (tested against it): ASCII
# whitespace and separators 0x1C-0x1F, C2 (U+0085, NBSP), E1 (U+1680), E2 (U+2000-U+205F)
# and E3 (U+3000). Text starting with any other byte, "é" or a letter, is never blank.
_BLANK_FIRST: Final = np.zeros(256, dtype=bool)
_BLANK_FIRST[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 0xC2, 0xE1, 0xE2, 0xE3]] = True

F64 = npt.NDArray[np.float64]


def _repeated(x: F64, w: I64, block: int) -> Iterator[F64]:
    """np.repeat(x, w) in consecutive pieces of at most `block` values (the KLL sketch has no weights).

    A settled column's counts add up to every row it has seen: repeated at once, a column of a few
    hundred distinct numbers would take 8 bytes a row.
    """
    if len(w) == 0 or w.max() == 1:
        yield x
        return
    ends = np.cumsum(w)
    total = int(ends[-1])
    for start in range(0, total, block):
        stop = min(start + block, total)
        lo = int(np.searchsorted(ends, start, side="right"))  # the values that rows start..stop-1 repeat
        hi = int(np.searchsorted(ends, stop - 1, side="right"))
        counts = w[lo : hi + 1].copy()
        counts[0] = min(int(ends[lo]), stop) - start
        if hi > lo:
            counts[-1] = stop - int(ends[hi] - w[hi])
        yield np.repeat(x[lo : hi + 1], counts)


def _prefix_key(text: str) -> np.uint64:
    """ByteView.prefix_keys of one string."""
    return np.uint64(int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "big"))


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

    def update_text(self, values: Any, view: ByteView, at: I64 | None = None) -> None:
        """Lexicographic min/max of `values` (or of those at positions `at`), comparing only
        values whose first bytes could beat them.

        After the first chunks almost no value can. The first byte (which the null and padding
        checks gather anyway) rules out most values of a text column; where it tells little
        (dates all start with "2"), 8-byte prefix keys do. Either is cheaper than comparing
        every string, which made pc.min_max a visible cost of a timestamp column's chunk.
        """
        n = len(values) if at is None else len(at)
        if self.lo is None or n < 64:
            self.update(values if at is None else values.take(pa.array(at)))
            return
        lo, hi = _prefix_key(self.lo), _prefix_key(self.hi)
        first = view.at(0) if at is None else view.at(0).take(at)
        maybe = (first <= np.uint8(lo >> np.uint64(56))) | (first >= np.uint8(hi >> np.uint64(56)))
        if np.count_nonzero(maybe) > n >> 2:
            keys, keyed = view.prefix_keys()
            if at is None:
                maybe[:keyed] = (keys <= lo) | (keys >= hi)
            else:  # values past `keyed` have no key: they stay candidates
                has_key = at < keyed
                at_keys = keys.take(at[has_key])
                maybe[has_key] = (at_keys <= lo) | (at_keys >= hi)
        if maybe.any():
            self.update(values.filter(pa.array(maybe)) if at is None else values.take(pa.array(at[maybe])))

    def update_np(self, x: Any) -> None:
        if len(x):
            self.merge(MinMax(x.min().item(), x.max().item()))

    def merge(self, other: MinMax) -> None:
        self.lo, self.hi = _lo(self.lo, other.lo), _hi(self.hi, other.hi)


@dataclass(slots=True)
class Moments:
    """Count, mean, sum of squared deviations, sum, zeros, negatives; merged with Chan et al.'s formula."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    total: float = 0.0
    zeros: int = 0
    negatives: int = 0

    def update(self, x: F64, w: I64) -> None:
        """Fold in values `x` seen `w` times each."""
        if len(x) == 0:
            return
        # Values near 1e308 overflow; the result is then reported as null, not as an error.
        with np.errstate(over="ignore", invalid="ignore"):
            n = int(w.sum())
            total = float((x * w).sum())
            mean = total / n
            m2 = float((w * np.square(x - mean)).sum())
        zeros, negatives = int(w[x == 0].sum()), int(w[x < 0].sum())
        self.merge(Moments(n, mean, m2, total, zeros, negatives))

    def merge(self, other: Moments) -> None:
        if other.n == 0:
            return
        n = self.n + other.n
        with np.errstate(over="ignore", invalid="ignore"):
            delta = other.mean - self.mean
            self.mean += delta * other.n / n
            self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n
        self.total += other.total
        self.zeros += other.zeros
        self.negatives += other.negatives

    def stddev(self) -> float | None:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 and self.m2 >= 0 else None


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
    leading_zeros: int = 0
    whitespace_padded: int = 0
    moments: Moments = field(default_factory=Moments)
    quantiles: Any = field(default_factory=lambda: kll_doubles_sketch(KLL_K))
    frequent: FrequentValues = field(default_factory=FrequentValues)
    # Raw cells counted but not yet looked at; None once the column is worked out batch by batch.
    pending: CountTable | None = field(default_factory=CountTable)

    def update(self, values: Any, counts: I64 | None = None, hashes: U64 | None = None) -> None:
        """Fold in one batch: distinct raw cells `values` (pa.StringArray) seen `counts` times.

        Without counts, `values` are raw cells and are counted here. With their `hashes`, batches
        are only counted (`pending`) while the column's distinct cells fit the exact value counts:
        every statistic of those cells is a function of (cell, count), so `settle` works them out
        once, instead of once per chunk. A column that outgrows the table is settled and worked
        out batch by batch from then on: at the latest where `frequent` would stop being exact.
        """
        if counts is None:
            encoded = pc.dictionary_encode(values)
            values = encoded.dictionary
            counts = np.bincount(encoded.indices.to_numpy(), minlength=len(values)).astype(np.int64)
            hashes = None
        pending = self.pending
        if pending is not None and hashes is not None:
            # The raw cells include nulls and blanks and the table counts its index too, so it fills
            # no later than `frequent` would stop being exact.
            limit = min(PENDING_VALUES, self.frequent.exact_limit)
            if pending.add(values, counts, hashes, limit, self.frequent.max_bytes):
                return
        self.settle()
        self._count(values, counts, hashes)

    def settle(self) -> None:
        """Work out the statistics of the cells counted but not yet looked at; batch by batch from here on."""
        pending, self.pending = self.pending, None
        if pending is not None and len(pending):
            self._count(pending.values, pending.counts, pending.hashes())

    def _count(self, values: Any, counts: I64, hashes: U64 | None) -> None:
        present = self._drop_absent(values, counts, hashes)
        if present is not None:
            values, counts, hashes, view = present
            self.frequent.update(values, counts, hashes)
            self._update_present(values, counts, view)

    def _drop_absent(
        self, values: Any, counts: I64, hashes: U64 | None
    ) -> tuple[Any, I64, U64 | None, ByteView | None] | None:
        """Counts nulls and empties; returns the present (values, counts, hashes, their ByteView
        when nothing was dropped), or None."""
        if len(values) == 0:
            return None
        # Null markers start with N, n or \\ and are at most 4 bytes, and blank cells start with
        # whitespace: a first-byte gather picks the few candidates, so the string kernels run on those alone.
        view = ByteView(values)
        first = view.at(0)
        is_null = _NULL_FIRST.take(first) & (view.lengths <= _NULL_MAX_BYTES)
        if is_null.any():
            is_null[is_null] = pc.is_in(values.filter(pa.array(is_null)), value_set=_NULL_SET).to_numpy(
                zero_copy_only=False
            )
        is_empty = view.lengths == 0
        maybe_blank = _BLANK_FIRST.take(first) & ~is_empty
        if maybe_blank.any():
            is_empty[maybe_blank] = pc.utf8_is_space(values.filter(pa.array(maybe_blank))).to_numpy(
                zero_copy_only=False
            )
        absent = is_null | is_empty
        if absent.any():
            self.null_count += int(counts[is_null].sum())
            self.empty_count += int(counts[is_empty & ~is_null].sum())
            keep = ~absent
            values, counts = values.filter(pa.array(keep)), counts[keep]
            hashes = hashes[keep] if hashes is not None else None
            return (values, counts, hashes, None) if len(values) else None
        return values, counts, hashes, view

    def _update_present(self, values: Any, counts: I64, view: ByteView | None = None) -> None:
        kinds = classify(values, hint=self._leading_type())
        # A batch holds one or two types: a masked sum per type present beats a weighted bincount.
        codes = kinds.codes
        lo, hi = int(codes.min()), int(codes.max())
        total = int(counts.sum())
        if lo == hi:
            self.type_counts[TYPE_NAMES[lo]] += total
        else:
            low, high = int(counts.sum(where=codes == lo)), int(counts.sum(where=codes == hi))
            self.type_counts[TYPE_NAMES[lo]] += low
            self.type_counts[TYPE_NAMES[hi]] += high
            if low + high < total:  # types between the two
                for code in range(lo + 1, hi):
                    self.type_counts[TYPE_NAMES[code]] += int(counts.sum(where=codes == code))
        view = view or ByteView(values)
        lengths = view.char_lengths(values)
        self.lengths.update_np(lengths)
        self.length_sum += int((lengths.astype(np.int64) * counts).sum())
        self.text.update_text(values, view)
        first = view.at(0)
        padded = _ASCII_SPACE.take(first) | _ASCII_SPACE.take(view.last())
        self.whitespace_padded += int(counts[padded].sum())
        zero_led = (first == ord("0")) & (lengths > 1)
        if zero_led.any():  # zip codes, ids: digits with a leading zero
            digits = pc.utf8_is_digit(values.filter(pa.array(zero_led))).to_numpy(zero_copy_only=False)
            self.leading_zeros += int(counts[zero_led][digits].sum())
        parts: list[tuple[F64, I64]] = []
        if len(kinds.int_pos):
            self.ints.update_np(kinds.ints)
            parts.append((kinds.ints.astype(np.float64), counts[kinds.int_pos]))
        if len(kinds.dec_pos):
            self.decimals.update_np(kinds.decs)
            parts.append((kinds.decs, counts[kinds.dec_pos]))
        if len(kinds.date_pos):
            self.dates.update_text(values, view, kinds.date_pos)  # ISO dates sort as text
        if len(kinds.datetime_pos):
            self.datetimes.update_text(values, view, kinds.datetime_pos)
        if parts:
            x = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
            w = np.concatenate([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
            self.moments.update(x, w)
            for piece in _repeated(x, w, REPEAT_BLOCK):
                self.quantiles.update(piece)

    def merge(self, other: ColumnAccumulator) -> None:
        self.settle()
        other.settle()
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
        self.leading_zeros += other.leading_zeros
        self.whitespace_padded += other.whitespace_padded
        self.moments.merge(other.moments)
        self.quantiles.merge(other.quantiles)
        self.frequent.merge(other.frequent)

    def _leading_type(self) -> str | None:
        name, n = max(self.type_counts.items(), key=lambda kv: kv[1])
        return name if n else None

    def _families(self) -> dict[str, int]:
        c = self.type_counts
        return {
            "numeric": c["integer"] + c["decimal"],
            "temporal": c["date"] + c["datetime"],
            "boolean": c["boolean"],
            "string": c["string"],
        }

    def inferred_type(self) -> str:
        """Dominant family; integer+decimal count as one family, as do date+datetime."""
        c = self.type_counts
        family, n = max(self._families().items(), key=lambda kv: kv[1])  # ties: first listed wins
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

    def _histogram(self, lo: float, hi: float) -> Histogram | None:
        """HISTOGRAM_BINS equal-width bins over [min, max], counted from the KLL sketch's CDF."""
        sketch, n = self.quantiles, self.moments.n
        # hi - lo overflows for values near ±1.8e308: no equal-width bins exist then.
        if sketch.is_empty() or not math.isfinite(hi - lo):
            return None
        bins = 1 if hi <= lo else HISTOGRAM_BINS
        edges = np.linspace(lo, hi, bins + 1)
        if bins > 1 and not (np.diff(edges) > 0).all():  # a range too narrow for distinct float64 edges
            bins, edges = 1, edges[[0, -1]]
        # get_pmf(inclusive=True) counts (edge_i, edge_i+1]; the first bin also takes the minimum.
        masses = [1.0] if bins == 1 else sketch.get_pmf(edges[1:-1].tolist(), True)
        counts = np.round(np.asarray(masses, dtype=np.float64) * n).astype(np.int64)
        counts[-1] += n - int(counts.sum())  # rounding residue, so bins sum to the numeric count
        return Histogram(
            approximate=sketch.is_estimation_mode(),
            rank_error=sketch.normalized_rank_error(True),
            bins=tuple(Bin(float(edges[i]), float(edges[i + 1]), int(counts[i])) for i in range(bins)),
        )

    def _quantiles(self) -> Quantiles:
        sketch = self.quantiles
        at = {k: _finite(sketch.get_quantile(q)) for k, q in QUANTILES.items()}
        return Quantiles(
            approximate=sketch.is_estimation_mode(),
            rank_error=sketch.normalized_rank_error(False),
            p01=at["p01"], p05=at["p05"], p25=at["p25"], p50=at["p50"],
            p75=at["p75"], p95=at["p95"], p99=at["p99"],
        )  # fmt: skip

    def result(self, index: int, name: str, original_name: str | None) -> ColumnProfile:
        """The column's part of the profile (`columns[]`)."""
        self.settle()
        kind = self.inferred_type()
        lo, hi = self._min_max(kind)
        numeric = kind in ("integer", "decimal")
        estimate, approximate, rel_err = self.frequent.distinct()
        present = sum(self.type_counts.values())
        families = self._families()
        quantiles: Quantiles | None = None
        histogram: Histogram | None = None
        if numeric and not self.quantiles.is_empty():
            quantiles = self._quantiles()
            histogram = self._histogram(float(lo), float(hi))
        m = self.moments
        length = None if present == 0 else Length(self.lengths.lo, self.length_sum / present, self.lengths.hi)
        return ColumnProfile(
            index=index,
            name=name,
            original_name=original_name,
            inferred_type=kind,
            mixed=present > 0 and max(families.values()) < MIXED_BELOW * present,
            type_counts=dict(self.type_counts),
            null_count=self.null_count,
            empty_count=self.empty_count,
            min=lo,
            max=hi,
            mean=_finite(m.mean) if numeric and m.n else None,
            stddev=_finite(m.stddev()) if numeric else None,
            sum=_finite(m.total) if numeric and m.n else None,
            zeros=m.zeros if numeric else None,
            negatives=m.negatives if numeric else None,
            quantiles=quantiles,
            histogram=histogram,
            length=length,
            leading_zeros=self.leading_zeros,
            whitespace_padded=self.whitespace_padded,
            distinct=Distinct(estimate, approximate, rel_err),
            top_values=tuple(TopValue(v, c) for v, c in self.frequent.top(TOP_K)),
            top_values_approximate=not self.frequent.exact,
            top_values_max_error=self.frequent.max_error,
        )
