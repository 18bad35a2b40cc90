"""Cells counted per chunk and worked out once (CountTable, ColumnAccumulator.settle) give the profile
that working out every batch gives."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csvprof.contracts.profile import ColumnProfile
from csvprof.profiler.columns import PENDING_VALUES, ColumnAccumulator, _repeated
from csvprof.profiler.partial import ColumnBatch
from csvprof.profiler.sketches import CountTable, FrequentValues, hash_strings

# Cells of every kind the accumulator tells apart: nulls, blanks, padding, numbers, dates, text.
CELLS = st.sampled_from(
    ["", " ", "NULL", "n/a", "NA", "0", "007", "42", "-3.5", "1e3", "true", "No", "2024-02-29", "2023-02-29",
     "2024-01-31T08:00:00Z", " padded ", "é", "zz", "a,b"]
) | st.text(alphabet="0123456789.-ab", min_size=1, max_size=6)  # fmt: skip
EXACT_FIELDS = (
    "inferred_type", "mixed", "type_counts", "null_count", "empty_count", "min", "max", "length",
    "leading_zeros", "whitespace_padded", "distinct", "zeros", "negatives",
)  # fmt: skip


def _batch(cells: list[str]) -> ColumnBatch:
    return ColumnBatch.of(pa.array([c.encode() for c in cells], pa.binary()))


def _counted(table: CountTable) -> Counter[str]:
    return Counter(dict(zip(table.values.to_pylist(), table.counts.tolist(), strict=True)))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(CELLS, min_size=1, max_size=40), min_size=1, max_size=6))
def test_a_count_table_counts_every_batch_like_a_counter(batches: list[list[str]]) -> None:
    table = CountTable()
    for cells in batches:
        batch = _batch(cells)
        assert table.add(batch.values, batch.counts, batch.hashes, max_values=10_000, max_bytes=1 << 20)
    assert _counted(table) == Counter(c for cells in batches for c in cells)
    # The hash index finds each value where it is.
    assert (table.hashes() == hash_strings(table.values)).all()
    assert (np.diff(table.sorted.astype(np.float64)) >= 0).all()


def test_a_table_that_would_pass_its_limits_refuses_the_batch_and_stays_as_it_was() -> None:
    table = CountTable()
    first = _batch(["a", "b", "a"])
    assert table.add(first.values, first.counts, first.hashes, max_values=3, max_bytes=1 << 20)
    more = _batch(["a", "c", "d"])  # two new values: 4 in all
    assert not table.add(more.values, more.counts, more.hashes, max_values=3, max_bytes=1 << 20)
    assert _counted(table) == Counter({"a": 2, "b": 1})
    again = _batch(["b", "a"])  # nothing new: fits
    assert table.add(again.values, again.counts, again.hashes, max_values=3, max_bytes=1 << 20)
    assert _counted(table) == Counter({"a": 3, "b": 2})
    long = _batch(["x" * 100])
    size = table.nbytes(3, 2 + 100)  # with it: three values, 102 bytes of text
    assert not table.add(long.values, long.counts, long.hashes, max_values=10, max_bytes=size - 1)
    assert table.add(long.values, long.counts, long.hashes, max_values=10, max_bytes=size)


def test_a_value_sharing_a_hash_with_a_counted_one_is_refused_never_merged() -> None:
    table = CountTable()
    first = _batch(["apple"])
    assert table.add(first.values, first.counts, first.hashes, max_values=10, max_bytes=1 << 20)
    other = pa.array(["pear"])
    # A forged 64-bit collision: "pear" claims apple's hash.
    forged = first.hashes.copy()
    assert not table.add(other, np.array([5], np.int64), forged, max_values=10, max_bytes=1 << 20)
    assert _counted(table) == Counter({"apple": 1})


def _fold(batches: list[list[str]], *, pending: bool, exact_limit: int) -> ColumnProfile:
    acc = ColumnAccumulator(frequent=FrequentValues(exact_limit=exact_limit, width=8))
    if not pending:
        acc.pending = None  # every batch worked out as it comes
    for cells in batches:
        batch = _batch(cells)
        acc.update(batch.values, batch.counts, batch.hashes)
    return acc.result(0, "c", "c")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(CELLS, min_size=1, max_size=60), min_size=1, max_size=8),
    st.sampled_from([5, 12, 40, 10_000]),
)
def test_counting_first_and_settling_later_gives_the_profile_of_working_out_every_batch(
    batches: list[list[str]], exact_limit: int
) -> None:
    # Small exact limits make columns outgrow their pending table (and their exact counts) mid-way.
    settled = _fold(batches, pending=True, exact_limit=exact_limit)
    eager = _fold(batches, pending=False, exact_limit=exact_limit)
    for key in EXACT_FIELDS:
        assert getattr(settled, key) == getattr(eager, key), key
    assert settled.top_values_approximate == eager.top_values_approximate
    if not eager.top_values_approximate:
        assert settled.top_values == eager.top_values
        assert settled.top_values_max_error == eager.top_values_max_error == 0
    for key in ("mean", "stddev", "sum"):  # the same numbers, summed in another order
        a, b = getattr(settled, key), getattr(eager, key)
        assert (a is None) == (b is None), key
        if a is not None:
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), key
    if eager.quantiles is not None and not eager.quantiles.approximate:
        assert settled.quantiles == eager.quantiles


def test_a_column_past_the_pending_limit_is_worked_out_batch_by_batch() -> None:
    acc = ColumnAccumulator()
    cells = [f"v{i}" for i in range(PENDING_VALUES)]
    batch = _batch(cells)
    acc.update(batch.values, batch.counts, batch.hashes)
    assert acc.pending is not None
    assert acc.type_counts["string"] == 0  # only counted so far
    more = _batch(["one more"])
    acc.update(more.values, more.counts, more.hashes)
    assert acc.pending is None
    assert acc.type_counts["string"] == PENDING_VALUES + 1


def test_merge_settles_both_sides() -> None:
    left, right = ColumnAccumulator(), ColumnAccumulator()
    for acc, cells in ((left, ["1", "2", "2"]), (right, ["2", "x", ""])):
        batch = _batch(cells)
        acc.update(batch.values, batch.counts, batch.hashes)
    left.merge(right)
    assert left.pending is None
    assert right.pending is None
    result = left.result(0, "c", "c")
    assert result.type_counts["integer"] == 4
    assert result.type_counts["string"] == 1
    assert result.empty_count == 1
    assert [(t.value, t.count) for t in result.top_values][:1] == [("2", 3)]


@pytest.mark.parametrize("cells", [["a"] * 3, ["", "NULL"], ["7"]])
def test_a_pending_column_pickles_and_settles_alike(cells: list[str]) -> None:
    import pickle

    acc = ColumnAccumulator()
    batch = _batch(cells)
    acc.update(batch.values, batch.counts, batch.hashes)
    copy = pickle.loads(pickle.dumps(acc))  # noqa: S301 - our own object
    assert copy.result(0, "c", "c") == acc.result(0, "c", "c")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1e6, 1e6), st.integers(1, 5_000)), min_size=1, max_size=30),
    st.integers(1, 700),
)
def test_values_repeated_for_the_sketch_come_in_bounded_pieces_of_the_same_sequence(
    pairs: list[tuple[float, int]], block: int
) -> None:
    # A settled column's counts add up to its rows: the sketch gets them a block at a time.
    x = np.array([v for v, _ in pairs])
    w = np.array([c for _, c in pairs], dtype=np.int64)
    pieces = list(_repeated(x, w, block))
    assert np.array_equal(np.concatenate(pieces), np.repeat(x, w))
    if w.max() > 1:
        assert max(len(p) for p in pieces) <= block
