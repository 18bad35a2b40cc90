"""A column chunk becomes (distinct values, counts, hashes) the same way from either parser output."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from csvprof.profiler.partial import ColumnBatch
from csvprof.profiler.sketches import group_hashes, hash_strings


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
    first, counts = group_hashes(h)
    assert first is not None
    assert first.tolist() == [0, 1, 3]
    assert counts.tolist() == [3, 2, 1]
    assert group_hashes(np.array([1, 2, 3], dtype=np.uint64))[0] is None


def test_binary_columns_are_read_as_text() -> None:
    batch = ColumnBatch.of(pa.array([b"caf\xc3\xa9", b"x", b"x"], type=pa.binary()))
    assert batch.values.type == pa.string()
    assert _as_counter(batch) == Counter({"café": 1, "x": 2})
