"""Drift between two profiles of the same feed: `compare(old, new)` → `ProfileDiff`.

Pure: two typed `Profile`s in, a typed diff out, nothing read or written. Each finding has a
severity (none < warn < fail) from `Thresholds`; the diff's verdict is the worst of them, and
`csvprof diff` turns it into its exit code (0/1/2) so a pipeline can gate on it.
`contracts/profile-diff.schema.json` describes `to_dict()`; docs/data-contracts.md says what
each number means.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import IntEnum
from itertools import pairwise
from typing import Any, Final, Literal

from csvprof.contracts.profile import ColumnProfile, Profile, Quantiles

SCHEMA_VERSION: Final = "1"
NUMERIC_TYPES: Final = frozenset({"integer", "decimal"})
# The quantile points a profile carries, with their probabilities.
QUANTILE_POINTS: Final = (
    ("p01", 0.01), ("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95), ("p99", 0.99),
)  # fmt: skip
# PSI bins: cut at OLD's p05..p95 (6 bins, the smallest expected share 5 %). The 1 % tails would
# be within a sketch's rank error (≈1.3 %) of empty, and an empty bin's log term is what
# makes PSI noisy, so they are folded into the outer bins.
PSI_EDGES: Final = ("p05", "p25", "p50", "p75", "p95")
# A bin's share is floored at this before the log (the usual PSI smoothing): an empty bin
# gives a large but finite term.
PSI_FLOOR: Final = 1e-4
# profile.json's top_values holds at most 10 values (the schema's maxItems).
TOP_VALUES_CAP: Final = 10

ColumnStatus = Literal["added", "removed", "common"]


class Severity(IntEnum):
    """Ordered, so the verdict is `max()`; the JSON says the lowercase name."""

    NONE = 0
    WARN = 1
    FAIL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a change warns or fails. None turns a level off. Defaults: docs/data-contracts.md."""

    psi_warn: float | None = 0.1
    psi_fail: float | None = 0.25
    null_rate_warn: float | None = 0.05
    null_rate_fail: float | None = 0.2
    distinct_warn: float | None = 0.5
    distinct_fail: float | None = None
    ks_warn: float | None = None
    ks_fail: float | None = None
    new_top_share: float | None = 0.05

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number ≥ 0, not {value}")
        for kind in ("psi", "null_rate", "distinct", "ks"):
            warn, fail = getattr(self, f"{kind}_warn"), getattr(self, f"{kind}_fail")
            if warn is not None and fail is not None and warn > fail:
                raise ValueError(f"{kind}_warn ({warn}) is above {kind}_fail ({fail})")

    def grade(self, kind: str, value: float) -> tuple[Severity, float | None]:
        """The severity of `value` for `kind` (psi, null_rate, distinct, ks) and the threshold crossed."""
        fail: float | None = getattr(self, f"{kind}_fail")
        warn: float | None = getattr(self, f"{kind}_warn")
        if fail is not None and value >= fail:
            return Severity.FAIL, fail
        if warn is not None and value >= warn:
            return Severity.WARN, warn
        return Severity.NONE, None


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: Severity
    column: str | None
    message: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class NullRate:
    old: float
    new: float
    change: float


@dataclass(frozen=True, slots=True)
class DistinctChange:
    old: int
    new: int
    relative_change: float
    approximate: bool


@dataclass(frozen=True, slots=True)
class KsBound:
    """The max CDF gap at the quantile points of both, widened by both sketches' rank errors."""

    statistic: float
    gap: float
    rank_error: float
    approximate: bool = True


@dataclass(frozen=True, slots=True)
class Shift:
    psi: float
    bins: int
    ks: KsBound


@dataclass(frozen=True, slots=True)
class NewTopValue:
    value: str
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class ColumnDiff:
    name: str
    status: ColumnStatus
    severity: Severity
    old_index: int | None
    new_index: int | None
    old_type: str | None
    new_type: str | None
    null_rate: NullRate | None
    distinct: DistinctChange | None
    shift: Shift | None
    new_top_values: tuple[NewTopValue, ...]


@dataclass(frozen=True, slots=True)
class ProfileSide:
    dataset_id: str | None
    generated_at: str
    rows: int
    columns: int


@dataclass(frozen=True, slots=True)
class ProfileDiff:
    old: ProfileSide
    new: ProfileSide
    thresholds: Thresholds
    verdict: Severity
    findings: tuple[Finding, ...]
    columns: tuple[ColumnDiff, ...]
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (`csvprof diff --json`), the version first."""
        body = asdict(self, dict_factory=_json_dict)
        return {"schema_version": body.pop("schema_version"), **body}


def _json_dict(items: list[tuple[str, Any]]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Severity):
            return value.label
        return list(value) if isinstance(value, tuple) else value

    return {k: plain(v) for k, v in items}


# --- the comparison ----------------------------------------------------------------------


def compare(old: Profile, new: Profile, thresholds: Thresholds | None = None) -> ProfileDiff:
    """Every change from `old` (the accepted baseline) to `new`, graded by `thresholds`."""
    limits = thresholds or Thresholds()
    old_by_name = {c.name: c for c in old.columns}
    new_by_name = {c.name: c for c in new.columns}
    findings: list[Finding] = []
    columns: list[ColumnDiff] = []
    for column in new.columns:
        before = old_by_name.get(column.name)
        if before is None:
            found = [Finding("column_added", Severity.WARN, column.name, f"{column.name}: column added")]
            columns.append(_one_sided(column, "added", found))
        else:
            found = []
            columns.append(_common(before, column, old, new, limits, found))
        findings.extend(found)
    for column in old.columns:
        if column.name not in new_by_name:
            found = [Finding("column_removed", Severity.FAIL, column.name, f"{column.name}: column removed")]
            columns.append(_one_sided(column, "removed", found))
            findings.extend(found)
    findings.extend(_reordered(old, new))
    verdict = max((f.severity for f in findings), default=Severity.NONE)
    return ProfileDiff(_side(old), _side(new), limits, verdict, tuple(findings), tuple(columns))


def _side(profile: Profile) -> ProfileSide:
    dataset_id = str(profile.dataset_id) if profile.dataset_id is not None else None
    return ProfileSide(dataset_id, profile.generated_at, profile.dataset.rows, profile.dataset.columns)


def _one_sided(column: ColumnProfile, status: ColumnStatus, found: list[Finding]) -> ColumnDiff:
    added = status == "added"
    return ColumnDiff(
        name=column.name,
        status=status,
        severity=max(f.severity for f in found),
        old_index=None if added else column.index,
        new_index=column.index if added else None,
        old_type=None if added else column.inferred_type,
        new_type=column.inferred_type if added else None,
        null_rate=None,
        distinct=None,
        shift=None,
        new_top_values=(),
    )


def _reordered(old: Profile, new: Profile) -> list[Finding]:
    """One finding when the columns both have are in another relative order (an added or
    removed column shifts indices, which is not a reorder)."""
    new_names = {c.name for c in new.columns}
    old_names = {c.name for c in old.columns}
    before = [c.name for c in old.columns if c.name in new_names]
    after = [c.name for c in new.columns if c.name in old_names]
    if before == after:
        return []
    moved = [name for name, was in zip(after, before, strict=True) if name != was]
    return [Finding("columns_reordered", Severity.WARN, None, f"columns reordered: {', '.join(moved)}")]


def _common(
    old: ColumnProfile,
    new: ColumnProfile,
    old_profile: Profile,
    new_profile: Profile,
    limits: Thresholds,
    found: list[Finding],
) -> ColumnDiff:
    name = new.name
    if old.inferred_type != new.inferred_type:
        message = f"{name}: type {old.inferred_type} → {new.inferred_type}"
        found.append(Finding("column_retyped", Severity.FAIL, name, message))
    nulls = _null_rate(old, old_profile.dataset.rows, new, new_profile.dataset.rows)
    _grade(
        found, limits, "null_rate", name, abs(nulls.change), f"null rate {nulls.old:.1%} → {nulls.new:.1%}"
    )
    distinct = _distinct(old, new)
    if distinct is not None:
        change = f"distinct {distinct.old:,} → {distinct.new:,} ({distinct.relative_change:+.0%})"
        _grade(found, limits, "distinct", name, abs(distinct.relative_change), change)
    shift = _shift(old, new)
    if shift is not None:
        _grade(found, limits, "psi", name, shift.psi, f"PSI {shift.psi:.3f} (distribution shift)")
        ks = shift.ks
        _grade(found, limits, "ks", name, ks.statistic, f"KS ≤ {ks.statistic:.3f} (approximate)")
    tops = _new_top_values(old, new, limits.new_top_share)
    if tops:
        listed = ", ".join(f"{t.value!r} ({t.share:.1%})" for t in tops)
        found.append(Finding("new_top_values", Severity.WARN, name, f"{name}: new top values {listed}"))
    return ColumnDiff(
        name=name,
        status="common",
        severity=max((f.severity for f in found), default=Severity.NONE),
        old_index=old.index,
        new_index=new.index,
        old_type=old.inferred_type,
        new_type=new.inferred_type,
        null_rate=nulls,
        distinct=distinct,
        shift=shift,
        new_top_values=tops,
    )


def _grade(found: list[Finding], limits: Thresholds, kind: str, column: str, value: float, what: str) -> None:
    severity, threshold = limits.grade(kind, value)
    if severity is not Severity.NONE:
        message = f"{column}: {what} ≥ {severity.label} threshold {threshold:g}"
        found.append(Finding(kind, severity, column, message, value, threshold))


def _null_rate(old: ColumnProfile, old_rows: int, new: ColumnProfile, new_rows: int) -> NullRate:
    before = (old.null_count + old.empty_count) / old_rows if old_rows else 0.0
    after = (new.null_count + new.empty_count) / new_rows if new_rows else 0.0
    return NullRate(before, after, after - before)


def _distinct(old: ColumnProfile, new: ColumnProfile) -> DistinctChange | None:
    before, after = old.distinct.estimate, new.distinct.estimate
    if before == after == 0:
        return None
    # Relative to the old count; from 0 distinct values any new one is a 100 % change.
    change = (after - before) / before if before else 1.0
    return DistinctChange(before, after, change, old.distinct.approximate or new.distinct.approximate)


# --- distribution shift ------------------------------------------------------------------

CdfPoints = list[tuple[float, float]]


def _cdf_points(column: ColumnProfile) -> CdfPoints | None:
    """(value, cumulative share) points of a numeric column: (min, 0), its quantiles, (max, 1)."""
    quantiles = column.quantiles
    if column.inferred_type not in NUMERIC_TYPES or quantiles is None:
        return None
    values = [getattr(quantiles, name) for name, _ in QUANTILE_POINTS]
    low, high = column.min, column.max
    if (
        any(v is None for v in values)
        or not isinstance(low, int | float)
        or not isinstance(high, int | float)
    ):
        return None
    inner = [(float(v), p) for v, (_, p) in zip(values, QUANTILE_POINTS, strict=True)]
    points = sorted([(float(low), 0.0), *inner, (float(high), 1.0)])
    # A sketch's answers are monotone; keep the shares so whatever min/max rounding did.
    monotone: CdfPoints = []
    for value, share in points:
        monotone.append((value, max(share, monotone[-1][1]) if monotone else share))
    return monotone


def _cdf(points: CdfPoints, x: float) -> float:
    """The share of values ≤ x, linear between the known points (ties: the largest share)."""
    i = bisect_right([v for v, _ in points], x) - 1
    if i < 0:
        return 0.0
    if i == len(points) - 1:
        return 1.0
    (v0, p0), (v1, p1) = points[i], points[i + 1]
    return p0 + (p1 - p0) * (x - v0) / (v1 - v0)


def _shares(points: CdfPoints, cuts: Sequence[float]) -> list[float]:
    bounds = [0.0, *(_cdf(points, c) for c in cuts), 1.0]
    return [max(b - a, 0.0) for a, b in pairwise(bounds)]


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population Stability Index of two binnings (shares of the same bins):
    Σ (actual - expected) · ln(actual / expected), each share floored at `PSI_FLOOR`."""
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, PSI_FLOOR), max(a, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def _rank_error(quantiles: Quantiles) -> float:
    return quantiles.rank_error if quantiles.approximate else 0.0


def _shift(old: ColumnProfile, new: ColumnProfile) -> Shift | None:
    old_points, new_points = _cdf_points(old), _cdf_points(new)
    if old_points is None or new_points is None or old.quantiles is None or new.quantiles is None:
        return None
    # Both binned on OLD's quantile cuts (the baseline's bins, as PSI is usually computed).
    cuts = sorted({float(getattr(old.quantiles, name)) for name in PSI_EDGES})
    index = psi(_shares(old_points, cuts), _shares(new_points, cuts))
    # KS: the largest gap between the two CDFs where either profile knows its CDF (min,
    # quantiles, max), widened by both rank errors: a bound, not the exact statistic.
    at = sorted({v for v, _ in old_points} | {v for v, _ in new_points})
    gap = max(abs(_cdf(old_points, x) - _cdf(new_points, x)) for x in at)
    error = _rank_error(old.quantiles) + _rank_error(new.quantiles)
    return Shift(index, len(cuts) + 1, KsBound(min(1.0, gap + error), gap, error))


def _new_top_values(
    old: ColumnProfile, new: ColumnProfile, threshold: float | None
) -> tuple[NewTopValue, ...]:
    """NEW's top values absent from OLD's top list, by at least `threshold` of NEW's present
    values more than OLD's list allows them to have had (a full list hides values up to its
    smallest count, a Misra-Gries one also up to its error)."""
    if threshold is None or new.present == 0:
        return ()
    known = {t.value for t in old.top_values}
    hidden = old.top_values_max_error
    if len(old.top_values) >= TOP_VALUES_CAP:
        hidden += old.top_values[-1].count
    hidden_share = hidden / old.present if old.present else 0.0
    found = []
    for top in new.top_values:
        share = top.count / new.present
        if top.value not in known and share - hidden_share >= threshold:
            found.append(NewTopValue(top.value, top.count, share))
    return tuple(found)
