"""Vectorized value classification: one string column chunk in, typed subsets out.

Every check is a pyarrow.compute kernel over the whole chunk (RE2 regexes, set
membership, casts); nothing loops over cells in Python. The same patterns are
exported for the dialect sniffer, which classifies a few hundred sample cells
with Python's `re` (the patterns use the common subset of RE2 and `re`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TYPE_NAMES: Final = ("integer", "decimal", "boolean", "date", "datetime", "string")

NULL_MARKERS: Final = ("NULL", "null", "NA", "N/A", "None", "NaN", "nan", "\\N")
BOOLEAN_WORDS: Final = tuple(
    variant for word in ("true", "false", "yes", "no") for variant in (word, word.title(), word.upper())
)

# At most 18 digits, so every match fits int64; leading zeros (zip codes, ids) stay strings.
INTEGER_RE: Final = r"^[+-]?(0|[1-9][0-9]{0,17})$"
# A decimal point or an exponent is required: plain digit runs are integers or strings.
DECIMAL_RE: Final = r"^[+-]?(([0-9]+\.[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+)$"
_YMD: Final = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
DATE_RE: Final = "^" + _YMD + "$"
DATETIME_RE: Final = (
    "^"
    + _YMD
    + r"[T ]([01][0-9]|2[0-3]):[0-5][0-9](:([0-5][0-9]|60)(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)

_DAYS_IN_MONTH: Final = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
# One RE2 pass that rules out every typed reading: most cells of a text column fail at the first character.
_ANY_TYPED_RE: Final = "|".join(f"(?:{p})" for p in (INTEGER_RE, DECIMAL_RE, DATE_RE, DATETIME_RE)) + (
    "|^(?:" + "|".join(BOOLEAN_WORDS) + ")$"
)
_NULL_SET: Final = pa.array(NULL_MARKERS, type=pa.string())
_BOOL_SET: Final = pa.array(BOOLEAN_WORDS, type=pa.string())


@dataclass(slots=True)
class ClassifiedChunk:
    """One chunk split by type. `present` is every value that is neither null nor empty."""

    null_count: int
    empty_count: int
    present: Any  # pa.StringArray
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPE_NAMES, 0))
    integers: Any = None  # pa.Int64Array
    decimals: Any = None  # pa.Float64Array (finite values only)
    dates: Any = None  # pa.StringArray, ISO dates
    datetimes: Any = None  # pa.StringArray, ISO timestamps


def _regex(pattern: str) -> Callable[[Any], Any]:
    return lambda values: pc.match_substring_regex(values, pattern=pattern)


def _is_boolean(values: Any) -> Any:
    return pc.is_in(values, value_set=_BOOL_SET)


def _valid_calendar_day(ymd: Any) -> Any:
    """Regexes cap days at 31; reject Feb 30, Apr 31 and Feb 29 outside leap years.

    Only days 29-31 can be wrong, so only those are parsed (Arrow's strptime
    would roll 2021-02-29 over to 03-01 instead of failing).
    """
    late = pc.match_substring_regex(ymd, pattern=r"-(29|3[01])$")
    if late.true_count == 0:
        return pc.invert(late)  # all valid
    parts = ymd.filter(late)
    year, month, day = (
        pc.cast(pc.utf8_slice_codeunits(parts, a, b), pa.int32()).to_numpy()
        for a, b in ((0, 4), (5, 7), (8, 10))
    )
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days_in_month = _DAYS_IN_MONTH[month] + ((month == 2) & leap)
    valid = np.ones(len(ymd), dtype=bool)
    valid[np.flatnonzero(late.to_numpy(zero_copy_only=False))] = day <= days_in_month
    return pa.array(valid)


def _is_date(values: Any) -> Any:
    shape = pc.match_substring_regex(values, pattern=DATE_RE)
    return shape if shape.true_count == 0 else pc.and_(shape, _valid_calendar_day(values))


def _is_datetime(values: Any) -> Any:
    shape = pc.match_substring_regex(values, pattern=DATETIME_RE)
    if shape.true_count == 0:
        return shape
    return pc.and_(shape, _valid_calendar_day(pc.utf8_slice_codeunits(values, 0, 10)))


_MATCHERS: Final[dict[str, Callable[[Any], Any]]] = {
    "integer": _regex(INTEGER_RE),
    "decimal": _regex(DECIMAL_RE),
    "boolean": _is_boolean,
    "date": _is_date,
    "datetime": _is_datetime,
}


def classify(values: Any, hint: str | None = None) -> ClassifiedChunk:
    """Split a string array by type.

    `hint` (the column's dominant type so far) is tried first: on a clean column
    one regex pass claims every value and the rest of the cascade is skipped.
    """
    is_null = pc.is_in(values, value_set=_NULL_SET)
    is_empty = pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))
    absent = pc.or_(is_null, is_empty)
    null_count = is_null.true_count
    empty_count = is_empty.true_count
    present = values.filter(pc.invert(absent)) if null_count or empty_count else values
    chunk = ClassifiedChunk(null_count=null_count, empty_count=empty_count, present=present)

    order = list(_MATCHERS)
    if hint in _MATCHERS:
        order.remove(hint)
        order.insert(0, hint)
    rest = present
    union_step = 1 if hint in _MATCHERS else 0
    for step, name in enumerate(order):
        if len(rest) == 0:
            break
        if step == union_step:  # the hint missed some: drop what no type can match, in one pass
            maybe = pc.match_substring_regex(rest, pattern=_ANY_TYPED_RE)
            typed = maybe.true_count
            chunk.counts["string"] += len(rest) - typed
            if typed == 0:
                rest = rest.slice(0, 0)
                break
            if typed < len(rest):
                rest = rest.filter(maybe)
        mask = _MATCHERS[name](rest)
        hits = mask.true_count
        if hits == 0:
            continue
        if hits == len(rest):
            matched, rest = rest, rest.slice(0, 0)
        else:
            matched, rest = rest.filter(mask), rest.filter(pc.invert(mask))
        rest = _store(chunk, name, matched, rest)
    chunk.counts["string"] += len(rest)
    return chunk


def _store(chunk: ClassifiedChunk, name: str, matched: Any, rest: Any) -> Any:
    """Record `matched` under `name`; returns `rest`, plus any values the cast rejected."""
    if name == "integer":
        chunk.integers = pc.cast(matched, pa.int64())
    elif name == "decimal":
        floats = pc.cast(matched, pa.float64())
        finite = pc.is_finite(floats)
        if finite.true_count < len(floats):  # 1e999 overflows to inf: keep it as text
            rest = pa.concat_arrays([rest, matched.filter(pc.invert(finite))])
            floats = floats.filter(finite)
        chunk.decimals = floats
        matched = floats
    elif name == "date":
        chunk.dates = matched
    elif name == "datetime":
        chunk.datetimes = matched
    chunk.counts[name] += len(matched)
    return rest
