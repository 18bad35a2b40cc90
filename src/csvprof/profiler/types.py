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
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from csvprof.profiler.words import I64, aligned_words, tail_mask, word_at

F64 = npt.NDArray[np.float64]

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

_DAYS_BY_MONTH: Final = np.zeros(100, dtype=np.int32)  # months 00-99, as two digits read them
_DAYS_BY_MONTH[1:13] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
_YEARS: Final = np.arange(10_000)
_LEAP_YEAR: Final = ((_YEARS % 4 == 0) & (_YEARS % 100 != 0)) | (_YEARS % 400 == 0)
# One RE2 pass that rules out every typed reading: most cells of a text column fail at the first character.
_ANY_TYPED_RE: Final = "|".join(f"(?:{p})" for p in (INTEGER_RE, DECIMAL_RE, DATE_RE, DATETIME_RE)) + (
    "|^(?:" + "|".join(BOOLEAN_WORDS) + ")$"
)
_NUMBER_FIRST: Final = np.zeros(256, dtype=bool)  # numbers, dates and timestamps start so
_NUMBER_FIRST[[ord(c) for c in "0123456789+-."]] = True
# Bytes a number, date or timestamp can hold (0: past a short value's end). Checking bytes 1-4
# too rules out most UUIDs that start with a digit, before any regex sees them.
_TYPED_BYTE: Final = np.zeros(256, dtype=bool)
_TYPED_BYTE[[0, *(ord(c) for c in "0123456789+-.eE:TZ ")]] = True
_TYPED_PREFIX: Final = 5
_TYPED_LAST: Final = np.zeros(256, dtype=bool)  # the last byte of a number, date or timestamp
_TYPED_LAST[[ord(c) for c in "0123456789.Z"]] = True
_BOOLEAN_FIRST: Final = np.zeros(256, dtype=bool)
_BOOLEAN_FIRST[[ord(w[0]) for w in BOOLEAN_WORDS]] = True
_BOOLEAN_MAX_BYTES: Final = max(len(w) for w in BOOLEAN_WORDS)
_BOOL_SET: Final = pa.array(BOOLEAN_WORDS, type=pa.string())


STRING_CODE: Final = TYPE_NAMES.index("string")
HINT_SAMPLE: Final = 256


@dataclass(slots=True)
class Classified:
    """Types of distinct present values: `codes[i]` indexes TYPE_NAMES; typed values by position."""

    codes: npt.NDArray[np.int8]
    int_pos: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    ints: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    dec_pos: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    decs: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, np.float64))
    date_pos: I64 = field(default_factory=lambda: np.zeros(0, np.int64))
    datetime_pos: I64 = field(default_factory=lambda: np.zeros(0, np.int64))


def _regex(pattern: str) -> Callable[[Any], Any]:
    return lambda values: pc.match_substring_regex(values, pattern=pattern)


def _is_boolean(values: Any) -> Any:
    return pc.is_in(values, value_set=_BOOL_SET)


def _digits(values: Any, at: int, width: int) -> npt.NDArray[np.int32]:
    """The number written at byte offsets [at, at + width) of each value (shape already checked)."""
    view = ByteView(values)
    out = np.zeros(len(values), np.int32)
    for k in range(at, at + width):
        out = out * 10 + (view.at(k, checked=True).astype(np.int32) - ord("0"))
    return out


def _valid_calendar_day(ymd: Any) -> npt.NDArray[np.bool_]:
    """Regexes cap days at 31; reject Feb 30, Apr 31 and Feb 29 outside leap years.

    Every value starts with YYYY-MM-DD (callers pass regex matches only), so the fields
    are read from fixed byte offsets with numpy: no slicing, no casts.
    """
    return _real_day(_digits(ymd, 0, 4), _digits(ymd, 5, 2), _digits(ymd, 8, 2))


def _real_day(
    year: npt.NDArray[np.integer], month: npt.NDArray[np.integer], day: npt.NDArray[np.integer]
) -> npt.NDArray[np.bool_]:
    """Month 1-12 and a day that month has (Feb 29 in leap years only).

    Two table lookups instead of three modulos, which cost more on every timestamp. Out-of-range
    months (and years, from bytes that were not digits) clip to entries that fail or don't matter.
    """
    leap = _LEAP_YEAR.take(year, mode="clip")
    last = _DAYS_BY_MONTH.take(month, mode="clip") + ((month == 2) & leap)
    ok: npt.NDArray[np.bool_] = (day >= 1) & (day <= last)
    return ok


def _calendar_checked(values: Any, pattern: str) -> Any:
    """Regex shape, then the calendar check on the values with that shape only."""
    shape = pc.match_substring_regex(values, pattern=pattern)
    hits = shape.true_count
    if hits == 0:
        return shape
    mask = shape.to_numpy(zero_copy_only=False)
    mask[mask] = _valid_calendar_day(values if hits == len(values) else values.filter(shape))
    return pa.array(mask)


# Fixed-width shapes checked with numpy on an (n, width) byte matrix instead of RE2 (cheaper on
# a timestamp column); what they miss goes to the regex. D: a digit; T: "T" or " "; else that byte.
_DATE_SHAPE: Final = "DDDD-DD-DD"
_DATETIME_SHAPES: Final = ("DDDD-DD-DDTDD:DD", "DDDD-DD-DDTDD:DD:DD", "DDDD-DD-DDTDD:DD:DDZ")


def _two_digits(m: npt.NDArray[np.uint8], at: int) -> npt.NDArray[np.int16]:
    pair: npt.NDArray[np.int16] = (m[:, at].astype(np.int16) - 48) * 10 + (m[:, at + 1].astype(np.int16) - 48)
    return pair


def _matches_shape(m: npt.NDArray[np.uint8], shape: str) -> npt.NDArray[np.bool_]:
    """Rows of the byte matrix `m` that are `shape` (the regexes' ranges, and a real calendar day)."""
    digits = [i for i, c in enumerate(shape) if c == "D"]
    ok: npt.NDArray[np.bool_] = np.all((m[:, digits] - np.uint8(48)) < 10, axis=1)
    for i, c in enumerate(shape):
        if c == "T":
            ok &= (m[:, i] == ord("T")) | (m[:, i] == ord(" "))
        elif c != "D":
            ok &= m[:, i] == ord(c)
    ok &= _real_day(
        _two_digits(m, 0).astype(np.int32) * 100 + _two_digits(m, 2), _two_digits(m, 5), _two_digits(m, 8)
    )
    if len(shape) > 10:
        ok &= (_two_digits(m, 11) <= 23) & (_two_digits(m, 14) <= 59)
    if len(shape) > 16:
        ok &= _two_digits(m, 17) <= 60
    return ok


def _shape_mask(values: Any, shapes: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """Values that match one of the fixed-width `shapes`: the fast path, never a false match."""
    lengths = ByteView(values).lengths
    hit = np.zeros(len(values), dtype=bool)
    for shape in shapes:
        width = len(shape)
        rows = lengths == width
        count = int(np.count_nonzero(rows))
        if count == 0:
            continue
        part = values if count == len(values) else values.filter(pa.array(rows))
        start = int(np.frombuffer(part.buffers()[1], dtype=np.int32)[part.offset])
        data = np.frombuffer(part.buffers()[2], dtype=np.uint8)
        # Equal widths and offsets that never decrease: the values are one contiguous block.
        matrix = data[start : start + count * width].reshape(count, width)
        hit[rows] = _matches_shape(matrix, shape)
    return hit


def _is_date(values: Any) -> Any:
    return pa.array(_shape_mask(values, (_DATE_SHAPE,)))  # DATE_RE has this one width only


def _is_datetime(values: Any) -> Any:
    hit = _shape_mask(values, _DATETIME_SHAPES)
    other = ~hit  # fractions of a second, UTC offsets, and non-matches: the regex decides
    if other.any():
        hit[other] = _calendar_checked(values.filter(pa.array(other)), DATETIME_RE).to_numpy(
            zero_copy_only=False
        )
    return pa.array(hit)


_MATCHERS: Final[dict[str, Callable[[Any], Any]]] = {
    "integer": _regex(INTEGER_RE),
    "decimal": _regex(DECIMAL_RE),
    "boolean": _is_boolean,
    "date": _is_date,
    "datetime": _is_datetime,
}


_MAX_INT: Final = 10**18  # INTEGER_RE allows at most 18 digits


def _integers_by_cast(values: Any) -> tuple[npt.NDArray[np.bool_], I64] | None:
    """Integers without a regex: one whole-array cast, then the leading-zero and 18-digit rules.

    Returns (is_integer mask, int64 values) when the cast succeeds, else None. After a
    successful cast every value is an INTEGER_RE integer or a string: Arrow's cast takes
    "05" and "0x10" (leading zero: strings here, like zip codes) and 19-digit numbers
    (too long: strings), and rejects "+5", spaces, dots and exponents.
    """
    try:
        ints = pc.cast(values, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    x = ints.to_numpy()
    view = ByteView(values)
    first, second, lengths = view.at(0), view.at(1), view.lengths
    zero = ord("0")
    leading = ((first == zero) & (lengths > 1)) | ((first == ord("-")) & (second == zero) & (lengths > 2))
    return ~leading & (x > -_MAX_INT) & (x < _MAX_INT), x


_NUMBER_BYTE: Final = np.zeros(256, dtype=bool)  # every byte of an INTEGER_RE or DECIMAL_RE match
_NUMBER_BYTE[[ord(c) for c in "0123456789+-.eE"]] = True


def _numbers_by_cast(values: Any) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], F64] | None:
    """Integers and decimals without a regex: one float64 cast of the whole array.

    Returns (is_integer, is_decimal, floats), or None unless the cast takes every value as a
    number spelled with [0-9+-.eE] only; the regexes decide then. What the cast takes is
    `[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?`, or "inf", "infinity", "nan" in any case:
    those are never finite, so only the few non-finite values have their bytes checked (an
    overflow such as 1e999 stays text, as in _store). A value the cast takes is a decimal when it
    has a point or an exponent (DECIMAL_RE requires one) and otherwise an integer under
    INTEGER_RE's rules: a sign only in front, no leading zero, 18 digits at most. One cast and a
    substring search are a fraction of the cost of the regexes on a column of prices.
    """
    view = ByteView(values)
    if len(view.starts) == 0 or not view.lengths.all():
        return None
    try:
        floats: F64 = pc.cast(values, pa.float64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    finite = np.isfinite(floats)
    if not finite.all():
        odd = values.filter(pa.array(~finite))
        odd_view = ByteView(odd)
        span = odd_view.data[odd_view.starts[0] : odd_view.starts[-1] + odd_view.lengths[-1]]
        if not _NUMBER_BYTE.take(span).all():  # inf or nan spelled out: not a number here
            return None
    marked = pc.match_substring(values, pattern=".").to_numpy(zero_copy_only=False)
    if not marked.all():
        unmarked = ~marked
        marked[unmarked] = pc.match_substring(
            values.filter(pa.array(unmarked)), pattern="e", ignore_case=True
        ).to_numpy(zero_copy_only=False)
    first, second, lengths = view.at(0), view.at(1), view.lengths
    signed = (first == ord("-")) | (first == ord("+"))
    digits = lengths - signed
    lead = np.where(signed, second, first)
    is_int = ~marked & (digits <= 18) & ((lead != ord("0")) | (digits == 1))
    return is_int, marked & finite, floats


class ByteView:
    """Bytes at fixed positions of every value of a pa.StringArray, gathered from Arrow's buffers."""

    __slots__ = ("_first", "_keys", "data", "lengths", "starts")

    def __init__(self, values: Any) -> None:
        n = len(values)
        _, offsets_buf, data_buf = values.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=np.int32)[values.offset : values.offset + n + 1]
        self.starts = offsets[:-1]
        self.lengths = np.diff(offsets)
        raw = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
        # Gathers past a value's end are clipped into the buffer, then masked; never copy the data.
        self.data = raw if len(raw) else np.zeros(1, np.uint8)
        self._first: npt.NDArray[np.uint8] | None = None
        self._keys: tuple[npt.NDArray[np.uint64], int] | None = None

    def at(self, k: int, checked: bool = False) -> npt.NDArray[np.uint8]:
        """Byte k of each value; 0 where a value is shorter unless `checked` says none is.

        The first bytes are kept (read-only): the null, blank, padding and type checks all use them.
        """
        if k == 0 and self._first is not None:
            return self._first
        if len(self.starts) == 0:
            return np.zeros(0, np.uint8)
        out = self.data.take(self.starts + k, mode="clip")
        if not checked:  # a multiply, not a masked store: one pass without a branch per value
            np.multiply(out, self.lengths > k, out=out)
        if k == 0 and not checked:  # a checked gather may skip the zeroing: not kept
            out.flags.writeable = False
            self._first = out
        return out

    def prefix_keys(self) -> tuple[npt.NDArray[np.uint64], int]:
        """(first 8 bytes of each value as a big-endian integer, zero-padded; how many have one).

        Keys order like the text: a key greater than another's means the text is greater.
        Values ending in the buffer's last 16 bytes get no key (a suffix, as offsets never
        decrease); callers treat those as always interesting.
        """
        if self._keys is None:  # kept: text and typed min/max both read them
            words = aligned_words(self.data)
            keyed = int(np.searchsorted(self.starts, len(words) * 8 - 16, side="left"))
            starts, lengths = self.starts[:keyed].astype(np.int64), self.lengths[:keyed]
            raw = word_at(words, starts) & tail_mask(np.minimum(lengths, 8))
            self._keys = raw.byteswap(), keyed
        return self._keys

    def char_lengths(self, values: Any) -> npt.NDArray[np.int32]:
        """Length in characters: the byte lengths when the text is ASCII (one max over the bytes)."""
        if len(self.starts) == 0:
            return np.zeros(0, np.int32)
        text = self.data[self.starts[0] : self.starts[-1] + self.lengths[-1]]
        if len(text) == 0 or text.max() < 0x80:
            return self.lengths
        chars: npt.NDArray[np.int32] = pc.utf8_length(values).to_numpy()
        return chars

    def last(self) -> npt.NDArray[np.uint8]:
        """Last byte of each value (0 for empty values)."""
        if len(self.starts) == 0:
            return np.zeros(0, np.uint8)
        out = self.data.take(self.starts + self.lengths - 1, mode="clip")
        np.multiply(out, self.lengths != 0, out=out)
        return out


def classify(values: Any, hint: str | None = None) -> Classified:
    """Type every value of a string array (distinct, present values: the caller weights by counts).

    `hint` (the column's dominant type so far) is tried first: on a clean column
    one pass claims every value and the rest of the cascade is skipped. An
    integer hint tries a whole-array cast before any regex. Without a hint (a column's
    first chunk), the first HINT_SAMPLE values are typed first and their dominant type
    is the hint: the whole cascade over every value is costly on a timestamp column.
    """
    n = len(values)
    out = Classified(codes=np.full(n, STRING_CODE, np.int8))
    if n == 0:
        return out
    if hint is None and n > 4 * HINT_SAMPLE:
        hint = TYPE_NAMES[int(np.bincount(classify(values.slice(0, HINT_SAMPLE)).codes).argmax())]
    if hint == "integer":
        cast = _integers_by_cast(values)
        if cast is not None:
            is_int, ints = cast
            out.int_pos = np.flatnonzero(is_int)
            out.ints = ints[out.int_pos]
            out.codes[out.int_pos] = TYPE_NAMES.index("integer")
            return out
    if hint == "decimal":
        numbers = _numbers_by_cast(values)
        if numbers is not None:
            is_int, is_dec, floats = numbers
            if is_int.any():
                _store(out, "integer", values.filter(pa.array(is_int)), np.flatnonzero(is_int))
            out.dec_pos = np.flatnonzero(is_dec)
            out.decs = floats[out.dec_pos]
            out.codes[out.dec_pos] = TYPE_NAMES.index("decimal")
            return out
    order = list(_MATCHERS)
    if hint in _MATCHERS:
        order.remove(hint)
        order.insert(0, hint)
    rest, rest_pos = values, np.arange(n, dtype=np.int64)
    union_step = 1 if hint in _MATCHERS else 0
    for step, name in enumerate(order):
        if len(rest) == 0:
            break
        if step == union_step:  # the hint missed some: drop what no type can match
            # Every typed value starts with a digit, sign or dot and holds only _TYPED_BYTE
            # bytes, or is a short word starting like a boolean: a few byte gathers rule out
            # most text (UUIDs too) before the one regex pass over the rest.
            view = ByteView(rest)
            first = view.at(0)
            # Table lookups with take(): uint8 fancy indexing is about twice as slow.
            candidates = _NUMBER_FIRST.take(first)
            for k in range(1, _TYPED_PREFIX):
                if not candidates.any():
                    break
                candidates &= _TYPED_BYTE.take(view.at(k))
            if candidates.any():  # and ends in a digit, a point or Z: a third of UUIDs do not
                candidates &= _TYPED_LAST.take(view.last())
            candidates |= _BOOLEAN_FIRST.take(first) & (view.lengths <= _BOOLEAN_MAX_BYTES)
            if not candidates.any():
                break
            if not candidates.all():
                rest, rest_pos = rest.filter(pa.array(candidates)), rest_pos[candidates]
            maybe = pc.match_substring_regex(rest, pattern=_ANY_TYPED_RE)
            typed = maybe.true_count
            if typed == 0:
                break
            if typed < len(rest):
                rest, rest_pos = rest.filter(maybe), rest_pos[maybe.to_numpy(zero_copy_only=False)]
        mask = _MATCHERS[name](rest)
        hits = mask.true_count
        if hits == 0:
            continue
        hit = mask.to_numpy(zero_copy_only=False)
        matched, pos = (rest, rest_pos) if hits == len(rest) else (rest.filter(mask), rest_pos[hit])
        _store(out, name, matched, pos)
        if hits == len(rest):
            break
        rest, rest_pos = rest.filter(pc.invert(mask)), rest_pos[~hit]
    return out


def _store(out: Classified, name: str, matched: Any, pos: I64) -> None:
    """Record `matched` (at positions `pos`) under `name`; non-finite decimals stay strings."""
    if name == "integer":
        # INTEGER_RE allows a plus sign; Arrow's cast does not.
        out.int_pos, out.ints = pos, pc.cast(pc.utf8_ltrim(matched, characters="+"), pa.int64()).to_numpy()
    elif name == "decimal":
        floats = pc.cast(matched, pa.float64()).to_numpy()
        finite = np.isfinite(floats)  # 1e999 overflows to inf: keep it as text
        pos, floats = pos[finite], floats[finite]
        out.dec_pos, out.decs = pos, floats
    elif name == "date":
        out.date_pos = pos
    elif name == "datetime":
        out.datetime_pos = pos
    out.codes[pos] = TYPE_NAMES.index(name)
