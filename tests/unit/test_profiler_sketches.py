"""Sketch accuracy and merge laws, against exact answers."""

from __future__ import annotations

import calendar
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csvprof.profiler.columns import _BLANK_FIRST, ColumnAccumulator, MinMax
from csvprof.profiler.sketches import FrequentValues, HyperLogLog, hash_strings, merge_counts
from csvprof.profiler.types import TYPE_NAMES, ByteView, _numbers_by_cast, _real_day, classify


def test_hash_is_deterministic_and_slice_independent() -> None:
    arr = pa.array(["a", "bb", "a", "ccc", "bb"] * 3)
    h = hash_strings(arr)
    assert h[0] == h[2]
    assert h[1] == h[4]
    assert len(set(h.tolist())) == 3
    assert (hash_strings(arr.slice(5, 5)) == h[:5]).all()


@pytest.mark.parametrize("n", [1_000, 50_000, 300_000])
def test_hll_within_four_standard_errors(n: int) -> None:
    hll = HyperLogLog()
    hll.update_strings(pa.array([f"user-{i}@example.com" for i in range(n)]))
    assert abs(hll.estimate() - n) <= 4 * hll.relative_error * n


def test_frequent_values_exact_then_bounded() -> None:
    rng = np.random.default_rng(1)
    values = [f"v{int(x)}" for x in rng.zipf(1.3, 60_000) % 40_000]
    truth = Counter(values)
    fv = FrequentValues(exact_limit=1_000, width=200)
    for i in range(0, len(values), 5_000):
        fv.update(pa.array(values[i : i + 5_000]))
    estimate, approximate, rel = fv.distinct()
    assert approximate
    assert abs(estimate - len(truth)) <= 4 * rel * len(truth)
    for value, count in fv.top(10):
        assert truth[value] - fv.max_error <= count <= truth[value]
    assert fv.max_error <= len(values) / 201
    assert [v for v, _ in fv.top(3)] == [v for v, _ in truth.most_common(3)]


def test_merge_equals_single_pass() -> None:
    chunks = [pa.array([str(i % 97) for i in range(k, k + 3_000)]) for k in range(0, 12_000, 3_000)]
    whole, left, right = ColumnAccumulator(), ColumnAccumulator(), ColumnAccumulator()
    for c in chunks:
        whole.update(c)
    for c in chunks[:2]:
        left.update(c)
    for c in chunks[2:]:
        right.update(c)
    left.merge(right)
    a, b = whole.result(0, "x", "x"), left.result(0, "x", "x")
    assert a.quantiles is not None
    assert b.quantiles is not None
    assert a.quantiles.p50 == pytest.approx(b.quantiles.p50, abs=2)
    for key in ("type_counts", "min", "max", "distinct", "top_values", "length"):
        assert getattr(a, key) == getattr(b, key)
    assert a.mean == pytest.approx(b.mean)
    assert a.stddev == pytest.approx(b.stddev)


def test_a_range_too_narrow_for_distinct_float_edges_is_one_bin() -> None:
    # np.linspace(0, 5e-324, 21) repeats edges, which the KLL sketch's PMF refuses.
    acc = ColumnAccumulator()
    acc.update(pa.array(["0", "0", "5e-324"]))
    histogram = acc.result(0, "x", "x").histogram
    assert histogram is not None
    assert [(b.lower, b.upper, b.count) for b in histogram.bins] == [(0.0, 5e-324, 3)]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.text(alphabet="ab\x00éz0", max_size=12), min_size=1, max_size=200), min_size=1, max_size=5
    )
)
def test_text_min_max_by_prefix_keys_matches_byte_order(batches: list[list[str]]) -> None:
    # After the first batch only values whose 8-byte prefix could win are compared.
    text = MinMax()
    for batch in batches:
        values = pa.array(sorted(set(batch)))
        text.update_text(values, ByteView(values))
    everything = [v.encode() for batch in batches for v in batch]
    assert text.lo.encode() == min(everything)
    assert text.hi.encode() == max(everything)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.one_of(
                    st.text(alphabet="2019-:T ab\x00é", max_size=20),
                    # long shared prefixes: ties on the 8-byte keys
                    st.tuples(
                        st.sampled_from(["2019-01-0", "2019-01-01T", "2019-0", "2019-01"]),
                        st.text("019:T", max_size=6),
                    ).map("".join),
                ),
                st.booleans(),
            ),
            min_size=1,
            max_size=200,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_min_max_of_the_values_at_some_positions(batches: list[list[tuple[str, bool]]]) -> None:
    # Typed min/max (dates, timestamps) read the positions of their type within a batch.
    typed = MinMax()
    chosen: list[bytes] = []
    for batch in batches:
        values = pa.array([v for v, _ in batch])
        at = np.array([i for i, (_, pick) in enumerate(batch) if pick], dtype=np.int64)
        typed.update_text(values, ByteView(values), at)
        chosen += [batch[i][0].encode() for i in at]
    assert (typed.lo is None) == (not chosen)
    if chosen:
        assert (typed.lo.encode(), typed.hi.encode()) == (min(chosen), max(chosen))


_TYPED_SAMPLES = [
    "42", "-7", "007", "3.25", "1e5", "-.5", "true", "No", "2024-02-29", "2023-02-29",
    "2024-01-31T23:59:59Z", "2024-01-31 08:00", "2024-01-31T08:00:00.123+05:30", "9f1cf71d-5647",
    "12345678-aaaa", "n/a", "hello", "1.2.3", "+5", "99999999999999999999", "5.", "-.5e3", "7e",
]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(_TYPED_SAMPLES), min_size=1, max_size=3_000))
def test_classification_does_not_depend_on_the_hint(cells: list[str]) -> None:
    # The hint (tried first, or guessed from a sample of a long first chunk) only orders
    # the checks: every value gets the same type whatever it is.
    values = pa.array(cells)
    expected = classify(values).codes.tolist()
    for hint in TYPE_NAMES:
        assert classify(values, hint=hint).codes.tolist() == expected
    alone = {c: int(classify(pa.array([c])).codes[0]) for c in set(cells)}
    assert expected == [alone[c] for c in cells]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text("abc", max_size=4), st.integers(1, 9), max_size=30),
    st.dictionaries(st.text("abc", max_size=4), st.integers(1, 9), max_size=30),
)
def test_merge_counts_adds_tables_of_either_size(kept: dict[str, int], batch: dict[str, int]) -> None:
    values, counts = merge_counts(
        pa.array(list(kept), pa.string()),
        np.array(list(kept.values()), np.int64),
        pa.array(list(batch), pa.string()),
        np.array(list(batch.values()), np.int64),
    )
    assert Counter(dict(zip(values.to_pylist(), counts.tolist(), strict=True))) == Counter(kept) + Counter(
        batch
    )
    # The kept table's values keep their places; new ones follow in batch order.
    assert values.to_pylist() == [*kept, *(v for v in batch if v not in kept)]


@given(
    st.lists(
        st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 2**14 - 1).map(lambda top: top << 50)),
        min_size=1,
        max_size=300,
    ),
    st.integers(1, 3),
)
@settings(max_examples=60, deadline=None)
def test_hll_registers_hold_each_buckets_largest_rank(hashes: list[int], batches: int) -> None:
    """Registers against the definition: rank = leading zeros of the low 50 bits + 1 (51 when all are 0)."""
    hll = HyperLogLog(p=14)
    for part in np.array_split(np.array(hashes, dtype=np.uint64), batches):
        hll.update_hashes(part)
    expected = np.zeros(1 << 14, dtype=np.uint8)
    for h in hashes:
        low = h & ((1 << 50) - 1)
        expected[h >> 50] = max(expected[h >> 50], 51 - low.bit_length())
    assert np.array_equal(hll.registers, expected)


def test_blank_first_bytes_cover_every_space_arrow_knows() -> None:
    """Every code point pc.utf8_is_space accepts starts with a byte the blank prefilter lets through."""
    points = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    spaces = pc.utf8_is_space(pa.array([chr(c) for c in points])).to_numpy(zero_copy_only=False)
    leads = {chr(c).encode()[0] for c, is_space in zip(points, spaces, strict=True) if is_space}
    assert leads == set(np.flatnonzero(_BLANK_FIRST).tolist())


def test_real_day_matches_the_calendar() -> None:
    """Every month 00-99 and day 00-99 of years around the leap-year rules, against `calendar`."""
    years = [0, 1, 4, 100, 400, 1900, 1996, 2000, 2023, 2024, 2100, 9999]
    grid = np.array([(y, m, d) for y in years for m in range(100) for d in range(100)], dtype=np.int32)
    got = _real_day(grid[:, 0], grid[:, 1], grid[:, 2])
    expected = [
        1 <= m <= 12 and 1 <= d <= calendar.monthrange(2000 if calendar.isleap(y) else 2001, m)[1]
        for y, m, d in grid.tolist()
    ]
    assert got.tolist() == expected


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text("0123456789+-.eE", min_size=1, max_size=8),
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
            st.integers(-(10**20), 10**20).map(str),
            st.sampled_from(["1e999", "-1e999", "007", "-0", "+5", "5.", "-.5", "2024-01-31", "1.5E+05"]),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_numbers_typed_by_cast_match_the_regexes(cells: list[str]) -> None:
    """The decimal hint's cast path gives every value the type, and the number, the regexes give it."""
    values = pa.array(cells)
    by_cast, by_regex = classify(values, hint="decimal"), classify(values)
    assert by_cast.codes.tolist() == by_regex.codes.tolist()
    assert by_cast.int_pos.tolist() == by_regex.int_pos.tolist()
    assert by_cast.ints.tolist() == by_regex.ints.tolist()
    assert by_cast.dec_pos.tolist() == by_regex.dec_pos.tolist()
    assert by_cast.decs.tolist() == by_regex.decs.tolist()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["inf", "-Infinity", "NaN", "nan(7)", "+nan", "INF", "1e999", "-1e999", "1.5"]),
            st.text("0123456789+-.eEinftyaINFTYA (_", min_size=1, max_size=9),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_numbers_the_cast_spells_with_letters_are_left_to_the_regexes(cells: list[str]) -> None:
    """The cast takes "inf" and "nan" too: never finite, they send the batch to the regexes."""
    values = pa.array(cells)
    by_cast, by_regex = classify(values, hint="decimal"), classify(values)
    assert by_cast.codes.tolist() == by_regex.codes.tolist()
    assert by_cast.ints.tolist() == by_regex.ints.tolist()
    assert by_cast.decs.tolist() == by_regex.decs.tolist()
    if any(c.strip("+-").lower().startswith(("inf", "nan")) for c in cells):
        assert _numbers_by_cast(values) is None


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False).map(repr),
            st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:.3e}"),
            st.integers(-(10**20), 10**20).map(str),
            st.sampled_from(["1e999", "-1e999", "007", "-0", "0", "5.", "-.5", "00.5", "1.5E+05", "-007"]),
            st.sampled_from(["123456789012345678", "1234567890123456789", "-1234567890123456789", "-0123"]),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_the_cast_path_runs_on_numbers_and_agrees(cells: list[str]) -> None:
    values = pa.array(cells)
    assert _numbers_by_cast(values) is not None  # these are all castable: the fast path is taken
    by_cast, by_regex = classify(values, hint="decimal"), classify(values)
    assert by_cast.codes.tolist() == by_regex.codes.tolist()
    assert by_cast.ints.tolist() == by_regex.ints.tolist()
    assert by_cast.decs.tolist() == by_regex.decs.tolist()


def test_typed_min_max_compares_values_that_tie_on_the_prefix_key() -> None:
    # Past 64 values the 8-byte prefix keys pick the candidates; a value sharing the current
    # minimum's key ("2019-01-") but smaller after it must still be compared.
    first = pa.array([f"2019-01-0{d}T12:00" for d in range(5, 10)] * 20 + ["x"] * 10)
    typed = MinMax()
    typed.update_text(first, ByteView(first), np.arange(100))
    second = pa.array(["2019-01-01T00:00", "2019-01-31T23:59"] + ["2019-01-07T12:00"] * 98 + ["y"] * 5)
    typed.update_text(second, ByteView(second), np.arange(100))
    assert (typed.lo, typed.hi) == ("2019-01-01T00:00", "2019-01-31T23:59")
