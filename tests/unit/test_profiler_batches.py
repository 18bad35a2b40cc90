"""A column chunk becomes (distinct values, counts, hashes) the same way from either parser output."""

from __future__ import annotations

import string
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from csvprof.profiler.partial import ColumnBatch
from csvprof.profiler.sketches import PADDED_COPY_BYTES, group_hashes, hash_strings


def _as_counter(batch: ColumnBatch) -> Counter[str]:
    return Counter(dict(zip(batch.values.to_pylist(), batch.counts.tolist(), strict=True)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab\x00é ", max_size=12), max_size=300))
def test_plain_and_dictionary_columns_give_the_same_batch(cells: list[str]) -> None:
    plain = ColumnBatch.of(pa.array([c.encode() for c in cells], pa.binary()))
    encoded = ColumnBatch.of(pc.dictionary_encode(pa.array(cells, pa.string())))
    truth = Counter(cells)
    assert _as_counter(plain) == truth
    assert _as_counter(encoded) == truth
    # Same value, same hash, whichever path computed it; rows get their value's hash.
    assert (plain.row_hashes == encoded.row_hashes).all()
    assert (plain.row_hashes == hash_strings(pa.array(cells, pa.string()))).all()
    assert len(set(plain.hashes.tolist())) == len(plain.values)


def test_group_hashes_keeps_first_rows_in_order() -> None:
    h = np.array([7, 3, 7, 9, 3, 7], dtype=np.uint64)
    groups = group_hashes(h)
    assert groups.first is not None
    assert groups.first.tolist() == [0, 1, 3]
    assert groups.counts.tolist() == [3, 2, 1]
    assert sorted(zip(groups.repeats.tolist(), groups.firsts_of_repeats.tolist(), strict=True)) == [
        (2, 0),
        (4, 1),
        (5, 0),
    ]
    assert group_hashes(np.array([1, 2, 3], dtype=np.uint64)).first is None


def test_group_hashes_counts_like_unique_on_large_mostly_distinct_input() -> None:
    # Enough rows share a first-level slot to take the second-table path.
    rng = np.random.default_rng(7)
    h = np.concatenate(
        [rng.integers(0, 2**63, 40_000, dtype=np.uint64), rng.integers(0, 500, 4_000).astype(np.uint64)]
    )
    rng.shuffle(h)
    groups = group_hashes(h)
    assert groups.first is not None
    values, first, counts = np.unique(h, return_index=True, return_counts=True)
    by_first = np.argsort(first)
    assert groups.first.tolist() == first[by_first].tolist()
    assert groups.counts.tolist() == counts[by_first].tolist()
    assert (h[groups.repeats] == h[groups.firsts_of_repeats]).all()
    assert len(groups.repeats) == len(h) - len(values)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 300),
    st.lists(st.text(string.printable + "\x00", min_size=300, max_size=300), min_size=1, max_size=40),
)
def test_equal_width_values_hash_as_they_do_among_other_widths(width: int, texts: list[str]) -> None:
    # Equal widths take the byte-matrix path; one longer value sends the same ones through
    # the general path. A value's hash must not depend on its neighbours.
    cells = [t.encode()[:width] for t in texts]
    fixed = hash_strings(pa.array(cells, pa.binary()))
    mixed = hash_strings(pa.array([*cells, b"x" * (width + 9)], pa.binary()))
    assert fixed.tolist() == mixed[:-1].tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(string.printable + "\x00é", max_size=70), min_size=1, max_size=60))
def test_a_short_batch_hashes_from_its_padded_copy_as_a_long_one_does_in_place(texts: list[str]) -> None:
    # Under PADDED_COPY_BYTES the values are hashed from a zero-padded copy; embedded among
    # enough others they are hashed in place, those near the buffer's end from a padded tail.
    cells = [t.encode() for t in texts]
    filler = [b"f" * 1000] * (PADDED_COPY_BYTES // 1000 + 1)
    short = hash_strings(pa.array(cells, pa.binary()))
    assert (hash_strings(pa.array([*filler, *cells], pa.binary()))[len(filler) :] == short).all()
    assert (hash_strings(pa.array([*cells, *filler], pa.binary()))[: len(cells)] == short).all()


def test_a_hash_collision_never_merges_two_values() -> None:
    rows = pa.array(["a", "b", "a", "c"])
    colliding = np.zeros(4, dtype=np.uint64)  # as if every value hashed alike
    batch = ColumnBatch.grouped(rows, colliding)
    assert _as_counter(batch) == Counter({"a": 2, "b": 1, "c": 1})


def test_hash_separates_values_that_differ_in_the_same_byte_of_two_words() -> None:
    # Multiplying carries bits upward only: without the xor-shift, equal changes to the top
    # byte of two words (bytes 7 and 15) cancelled, and 3,844 values got 256 hashes.
    alphabet = string.ascii_letters + string.digits
    values = [f"ORDER-0{x}2024-X1{y}" for x in alphabet for y in alphabet]
    assert len(set(hash_strings(pa.array(values)).tolist())) == len(values)


def test_hash_of_long_values_reads_every_byte() -> None:
    # Words past the first 32 take the vectorized tail path; word counts pass 2**16 here.
    base = "y" * 600_000
    values = [base, base[:400_000] + "z" + base[400_001:], base + "!", "a" * 524_285, "b" * 524_285]
    h = hash_strings(pa.array(values))
    assert len(set(h.tolist())) == len(values)
    assert (hash_strings(pa.array(values[1:3])) == h[1:3]).all()


def test_binary_columns_are_read_as_text() -> None:
    batch = ColumnBatch.of(pa.array([b"caf\xc3\xa9", b"x", b"x"], type=pa.binary()))
    assert batch.values.type == pa.string()
    assert _as_counter(batch) == Counter({"café": 1, "x": 2})
