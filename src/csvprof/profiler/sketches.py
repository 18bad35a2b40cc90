"""Mergeable summaries fed a whole chunk at a time.

* `HyperLogLog`: distinct counts above the exact threshold. datasketches' `hll_sketch`
  only takes one value per Python call (100-200 ns each), so strings are hashed
  in numpy (a polynomial hash over the Arrow data buffer) and registers are
  updated with `np.maximum.at`. Merge = element-wise max.
* `FrequentValues`: exact value counts while they fit, then a Misra-Gries
  summary (mergeable, Agarwal et al. 2012): every reported count is a lower
  bound, short by at most `max_error`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from csvprof.profiler.words import I64, U64, aligned_words, tail_mask, word_at

_P: Final = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime
_SEED: Final = np.uint64(0xCBF29CE484222325)  # FNV-1a's offset basis
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_Q: Final = np.uint64(0xD6E8FEB86659FD93)  # odd: the tail polynomial's base
HEAD_WORDS: Final = 32  # words hashed one loop step at a time; the rest in one vectorized pass
PADDED_COPY_BYTES: Final = 256 * 1024  # values spanning at most this are hashed from a padded copy


def _mix(h: U64) -> U64:
    """splitmix64 finalizer: spreads the hash over all 64 bits (HyperLogLog reads the top ones)."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed: U64 = h ^ (h >> np.uint64(31))
        return mixed


def _hash_words(words: npt.NDArray[np.uint64], starts: I64, lengths: I64) -> U64:
    """A 64-bit hash of each value's bytes; every word read must lie inside `words`.

    The first HEAD_WORDS words: FNV-1a over 8-byte words with an xor-shift after each
    multiply (the multiply alone only carries bits upward, so equal differences in the top
    byte of two words would cancel). Values are visited in order of word count (a radix
    sort on small integers), so those still being hashed at word k are one contiguous slice.
    Words past HEAD_WORDS (long text): one vectorized polynomial over all of them, so a
    1 MiB field costs a few array operations, not 131,072 loop steps.
    """
    n = len(starts)
    nwords = (lengths + 7) >> 3
    nwords = nwords.astype(np.uint16) if n and int(nwords.max()) < 1 << 16 else nwords
    order = np.argsort(nwords, kind="stable")
    sorted_words = nwords[order]
    top = min(int(sorted_words[-1]) if n else 0, HEAD_WORDS)
    bounds = [*np.searchsorted(sorted_words, np.arange(1, top + 2), side="left").tolist(), n]
    starts, lengths = starts[order], lengths[order]
    # word_at, with the shifts worked out once, and each step's high aligned word kept as the
    # next step's low one: one gather a step instead of two.
    q = (starts >> 3) + 1
    shift = ((starts & 7) * 8).astype(np.uint64)
    back = np.uint64(64) - shift
    low = words.take(q - 1) if top else np.zeros(0, np.uint64)
    h = np.full(n, _SEED, dtype=np.uint64)
    with np.errstate(over="ignore"):
        lo = 0
        for k in range(top):
            low, lo = low[bounds[k] - lo :], bounds[k]
            high = words.take(q[lo:])  # take: faster than fancy indexing
            q[lo:] += 1
            w = (low >> shift[lo:]) | (high << back[lo:])
            low = high
            ending = bounds[k + 1] - lo  # values whose last word this is come first in the slice
            if ending:
                w[:ending] &= tail_mask(lengths[lo : lo + ending] - 8 * k)
            active = h[lo:]
            np.bitwise_xor(active, w, out=active)
            np.multiply(active, _P, out=active)
            np.right_shift(active, np.uint64(32), out=w)
            np.bitwise_xor(active, w, out=active)
        long_from = bounds[HEAD_WORDS] if top == HEAD_WORDS else n
        if long_from < n:
            h[long_from:] ^= _tail_hash(words, starts[long_from:], lengths[long_from:])
        h ^= lengths.astype(np.uint64) * _GOLDEN
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    return out


def _tail_hash(words: npt.NDArray[np.uint64], starts: I64, lengths: I64) -> U64:
    """Sum of mixed(word j) * Q**j over the words after the first HEAD_WORDS, per value."""
    rest = ((lengths + 7) >> 3) - HEAD_WORDS  # > 0 for every value here
    total = int(rest.sum())
    first = np.concatenate([np.zeros(1, np.int64), np.cumsum(rest)[:-1]])
    j = np.arange(total, dtype=np.int64) - np.repeat(first, rest)  # word index within the tail
    pos = np.repeat(starts, rest) + 8 * (HEAD_WORDS + j)
    w = word_at(words, pos)
    last = first + rest - 1
    w[last] &= tail_mask(lengths - 8 * (HEAD_WORDS + rest - 1))
    with np.errstate(over="ignore"):
        w = (w ^ (w >> np.uint64(29))) * _Q
        powers = np.multiply.accumulate(np.full(int(rest.max()), _Q, dtype=np.uint64))
        tail: U64 = np.add.reduceat(w * powers[j], first)
    return tail


def _equal_widths(offsets: I64, width: int) -> bool:
    """Every value is `width` bytes (the total is checked first: it rules most columns out)."""
    return bool(offsets[-1] - offsets[0] == (len(offsets) - 1) * width and (np.diff(offsets) == width).all())


def _hash_fixed_width(rows: npt.NDArray[np.uint8]) -> U64:
    """_hash_words of values that all have one width (UUIDs, timestamps, dates), one per row.

    The values lie back to back, so a zero-padded copy of the (n, width) byte matrix gives
    every value's words as columns: no gathers and no shifts, and the same hash.
    """
    n, width = rows.shape
    padded = np.zeros((n, (width + 7) // 8 * 8), np.uint8)
    padded[:, :width] = rows
    words = padded.view(np.uint64)
    h = np.full(n, _SEED, dtype=np.uint64)
    w = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(words.shape[1]):
            np.bitwise_xor(h, words[:, k], out=h)
            np.multiply(h, _P, out=h)
            np.right_shift(h, np.uint64(32), out=w)
            np.bitwise_xor(h, w, out=h)
        h ^= np.uint64(width) * _GOLDEN
    return h


def hash_strings(values: Any) -> U64:
    """64-bit hashes of a pa.StringArray (_hash_words, then splitmix64)."""
    arr = values.cast(pa.string()) if values.type != pa.string() else values
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.uint64)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    width = int(offsets[1] - offsets[0])
    if 0 < width <= 8 * HEAD_WORDS and _equal_widths(offsets, width):
        return _mix(_hash_fixed_width(data[offsets[0] : offsets[-1]].reshape(n, width)))
    span = int(offsets[-1] - offsets[0])
    if span <= PADDED_COPY_BYTES:
        # Few bytes (a short batch): one zero-padded copy of them, hashed in one pass, costs less
        # than a second pass over the values near the buffer's end (below).
        padded = np.zeros((span + 16 + 7) // 8 * 8, np.uint8)
        padded[:span] = data[offsets[0] : offsets[-1]]
        return _mix(_hash_words(padded.view(np.uint64), offsets[:-1] - offsets[0], np.diff(offsets)))
    # Values ending in the buffer's last two words would read past it: offsets never decrease,
    # so those are a suffix, hashed from a zero-padded copy of their bytes.
    safe = int(np.searchsorted(offsets[1:], len(data) - len(data) % 8 - 16, side="right"))
    out = np.empty(n, dtype=np.uint64)
    if safe:
        out[:safe] = _hash_words(aligned_words(data), offsets[:safe], offsets[1 : safe + 1] - offsets[:safe])
    if safe < n:
        tail = offsets[safe:]
        padded = np.zeros((int(tail[-1] - tail[0]) + 16 + 7) // 8 * 8, np.uint8)
        padded[: tail[-1] - tail[0]] = data[tail[0] : tail[-1]]
        out[safe:] = _hash_words(padded.view(np.uint64), tail[:-1] - tail[0], np.diff(tail))
    return _mix(out)


@dataclass(frozen=True, slots=True)
class HashGroups:
    """Rows grouped by equal 64-bit hashes: each value's first row and count, and every
    repeated row beside its group's first row (so the caller can check the bytes match)."""

    first: I64 | None  # None: every row differs (ids, UUIDs: the usual case)
    counts: I64
    repeats: I64
    firsts_of_repeats: I64


def group_hashes(h: U64) -> HashGroups:
    """Group rows by hash. Only rows that share a slot of a 2n-slot table, and then a slot of
    a second table, are sorted (about the repeated values alone), so this costs less than
    building a dictionary of the values."""
    n = len(h)
    none = np.zeros(0, np.int64)
    ones = np.ones(n, np.int64)
    if n < 2:
        return HashGroups(None, ones, none, none)
    bits = max(10, (2 * n - 1).bit_length())
    slot = (h >> np.uint64(64 - bits)).astype(np.intp)
    shared = np.flatnonzero(np.bincount(slot, minlength=1 << bits)[slot] > 1)
    if len(shared) > 1024:
        # A second table on the low bits, over those rows alone, drops most chance collisions
        # (equal hashes share both slots), so the sort below sees mostly real repeats.
        low = (1 << max(10, (4 * len(shared) - 1).bit_length())) - 1
        slot2 = (h[shared] & np.uint64(low)).astype(np.intp)
        shared = shared[np.bincount(slot2, minlength=low + 1)[slot2] > 1]
    if len(shared) == 0:
        return HashGroups(None, ones, none, none)
    candidates = h[shared]
    order = np.argsort(candidates)
    ranked = candidates[order]
    new = np.empty(len(ranked), dtype=bool)
    new[0] = True
    np.not_equal(ranked[1:], ranked[:-1], out=new[1:])
    if new.all():
        return HashGroups(None, ones, none, none)
    rows = shared[order]
    starts = np.flatnonzero(new)
    first = np.minimum.reduceat(rows, starts)
    first_of_row = first[np.cumsum(new) - 1]
    repeated = rows != first_of_row
    keep = np.ones(n, dtype=bool)
    keep[rows[repeated]] = False
    ones[first] = np.diff(np.append(starts, len(rows)))
    return HashGroups(np.flatnonzero(keep), ones[keep], rows[repeated], first_of_row[repeated])


class HyperLogLog:
    """HyperLogLog over 64-bit hashes; 2**p one-byte registers."""

    __slots__ = ("p", "registers")

    def __init__(self, p: int = 14) -> None:
        self.p = p
        self.registers = np.zeros(1 << p, dtype=np.uint8)

    @property
    def relative_error(self) -> float:
        """One standard error of the estimate."""
        return 1.04 / math.sqrt(1 << self.p)

    def update_hashes(self, h: U64) -> None:
        if len(h) == 0:
            return
        rest = 64 - self.p
        idx = (h >> np.uint64(rest)).astype(np.intp)
        # Rank = leading zeros of the low `rest` bits + 1, capped at rest + 1 when they are all 0.
        # Below 2**53 a value converts to float64 exactly, and its exponent field is
        # 1022 + its bit length (0 for 0): half the passes of a shift-or cascade and a popcount.
        low = (h & np.uint64((1 << rest) - 1)).view(np.int64).astype(np.float64)
        exponent = (low.view(np.uint64) >> np.uint64(52)).astype(np.uint16)
        rank = np.minimum(np.uint16(1022 + rest + 1) - exponent, np.uint16(rest + 1)).astype(np.uint8)
        # Once the registers fill up, few hashes raise one: update only those.
        higher = rank > self.registers.take(idx)
        if higher.any():
            np.maximum.at(self.registers, idx[higher], rank[higher])

    def update_strings(self, values: Any) -> None:
        self.update_hashes(hash_strings(values))

    def merge(self, other: HyperLogLog) -> None:
        np.maximum(self.registers, other.registers, out=self.registers)

    def estimate(self) -> int:
        m = float(1 << self.p)
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int32))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return round(m * math.log(m / zeros))  # linear counting for small cardinalities
        return round(raw)


def merge_counts(values: Any, counts: I64, more: Any, more_counts: I64) -> tuple[Any, I64]:
    """Sum two (distinct values, counts) tables into one.

    One hash lookup (`index_in`) instead of a group-by: Acero's group_by costs about a
    millisecond a call, which dominated when merging small tables once per batch.
    Rows come out in the same order whichever table is hashed.
    """
    if len(values) == 0:
        return more, more_counts
    if len(more) == 0:
        return values, counts
    counts = counts.copy()
    if len(more) < len(values):
        # index_in hashes its value set: build it from the smaller table (a batch cut down by
        # Misra-Gries against the kept table, usually) and look the larger one up in it.
        at = pc.fill_null(pc.index_in(values, value_set=more), -1).to_numpy()
        kept = at >= 0
        counts[kept] += more_counts[at[kept]]  # both tables are distinct: one match each at most
        hit = np.zeros(len(more), dtype=bool)
        hit[at[kept]] = True
    else:
        idx = pc.fill_null(pc.index_in(more, value_set=values), -1).to_numpy()
        hit = idx >= 0
        counts[idx[hit]] += more_counts[hit]  # `more` is distinct, so no index repeats
    if hit.all():
        return values, counts
    fresh = ~hit
    return (
        pa.concat_arrays([values, more.filter(pa.array(fresh))]),
        np.concatenate([counts, more_counts[fresh]]),
    )


class HashDistinct:
    """Distinct 64-bit hashes: an exact sorted set up to `exact_limit`, then HyperLogLog."""

    __slots__ = ("exact_limit", "hashes", "hll")

    def __init__(self, exact_limit: int = 1 << 16) -> None:
        self.exact_limit = exact_limit
        self.hashes: U64 = np.zeros(0, np.uint64)
        self.hll: HyperLogLog | None = None

    def update(self, h: U64) -> None:
        if self.hll is not None:
            self.hll.update_hashes(h)
            return
        # Sort-based union: numpy's hash-based unique was the slowest step here.
        merged = np.sort(np.concatenate([self.hashes, h]))
        keep = np.empty(len(merged), dtype=bool)
        keep[:1] = True
        np.not_equal(merged[1:], merged[:-1], out=keep[1:])
        self.hashes = merged[keep]
        if len(self.hashes) > self.exact_limit:
            self.hll = HyperLogLog()
            self.hll.update_hashes(self.hashes)
            self.hashes = np.zeros(0, np.uint64)

    def merge(self, other: HashDistinct) -> None:
        if other.hll is not None:
            if self.hll is None:
                self.hll = HyperLogLog()
                self.hll.update_hashes(self.hashes)
                self.hashes = np.zeros(0, np.uint64)
            self.hll.merge(other.hll)
        else:
            self.update(other.hashes)

    @property
    def approximate(self) -> bool:
        return self.hll is not None

    def estimate(self) -> int:
        return self.hll.estimate() if self.hll is not None else len(self.hashes)


def _data_bytes(values: Any) -> int:
    """Bytes of text a pa.StringArray's values hold (its offsets' span)."""
    if len(values) == 0:
        return 0
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)
    return int(offsets[values.offset + len(values)] - offsets[values.offset])


def text_nbytes_bound(n: int, data_bytes: int) -> int:
    """At least `pa.Array.nbytes` of n strings holding `data_bytes` of text (offsets, a validity bitmap)."""
    return data_bytes + 4 * (n + 1) + (n + 7) // 8


class CountTable:
    """Distinct values and their counts, found again by their 64-bit hashes, each match checked byte for byte.

    A column's values that recur chunk after chunk (categories, flags, dates) are counted here, and
    everything else about them is worked out once from the table (ColumnAccumulator.settle), not per
    chunk. One binary search in the sorted hashes finds a batch's values: cheaper than `index_in`,
    which builds a hash table of its value set on every call.
    """

    __slots__ = ("counts", "data_bytes", "order", "sorted", "values")
    # Bytes per value besides its text: its count, its sorted hash and that hash's position.
    INDEX_BYTES: Final = 8 + 8 + 4

    def __init__(self) -> None:
        self.values: Any = pa.array([], type=pa.string())
        self.counts: I64 = np.zeros(0, np.int64)
        self.sorted: U64 = np.zeros(0, np.uint64)  # the values' hashes in ascending order
        self.order: npt.NDArray[np.int32] = np.zeros(0, np.int32)  # where in `values` each sorted hash is
        self.data_bytes = 0

    def __len__(self) -> int:
        return len(self.counts)

    def nbytes(self, n: int, data_bytes: int) -> int:
        """At least the memory of a table of n values holding `data_bytes` of text."""
        return text_nbytes_bound(n, data_bytes) + n * self.INDEX_BYTES

    def hashes(self) -> U64:
        """Each value's hash, in the order of `values`."""
        out = np.empty(len(self.sorted), np.uint64)
        out[self.order] = self.sorted
        return out

    def add(self, values: Any, counts: I64, hashes: U64, max_values: int, max_bytes: int) -> bool:
        """Count in distinct `values` (a pa.StringArray) seen `counts` times, with their `hashes`.

        False, leaving the table as it was, when the table would then hold more than `max_values`
        values or take more than `max_bytes` (`nbytes`), or when a value shares its hash with
        another one: the caller counts such a batch another way.
        """
        n = len(self.sorted)
        if n:
            pos = np.searchsorted(self.sorted, hashes)
            np.minimum(pos, n - 1, out=pos)
            found = self.sorted[pos] == hashes
            at = self.order[pos[found]]
        else:
            found, at = np.zeros(len(hashes), dtype=bool), np.zeros(0, np.int32)
        fresh_n = len(values) - len(at)
        fresh_values: Any = None
        fresh_bytes = 0
        if fresh_n:
            fresh_values = values if len(at) == 0 else values.filter(pa.array(~found))
            fresh_bytes = _data_bytes(fresh_values)
            size = self.nbytes(n + fresh_n, self.data_bytes + fresh_bytes)
            if n + fresh_n > max_values or size > max_bytes:
                return False
        if len(at):
            matched = values if fresh_n == 0 else values.filter(pa.array(found))
            if not pc.all(pc.equal(self.values.take(pa.array(at)), matched)).as_py():
                return False  # a 64-bit collision
            self.counts[at] += counts[found]  # distinct values, distinct hashes: no index repeats
        if fresh_n:
            fresh = ~found
            fresh_hashes = hashes[fresh]
            rank = np.argsort(fresh_hashes, kind="stable")
            ranked = fresh_hashes[rank]
            slot = np.searchsorted(self.sorted, ranked)
            self.sorted = np.insert(self.sorted, slot, ranked)
            self.order = np.insert(self.order, slot, (n + rank).astype(np.int32))
            self.values = pa.concat_arrays([self.values, fresh_values]) if n else fresh_values
            self.counts = np.concatenate([self.counts, counts[fresh]])
            self.data_bytes += fresh_bytes
        return True


class FrequentValues:
    """Value counts: exact up to `exact_limit` distinct values / `max_bytes`, then Misra-Gries.

    Fed per-batch (distinct values, counts) pairs, so each batch costs one
    dictionary encode upstream, never a Python loop over cells.
    """

    __slots__ = ("counts", "exact_limit", "hll", "max_bytes", "max_error", "total", "values", "width")

    def __init__(self, exact_limit: int = 10_000, width: int = 1_024, max_bytes: int = 4 << 20) -> None:
        self.exact_limit = exact_limit
        self.width = width
        self.max_bytes = max_bytes
        self.values: Any = pa.array([], type=pa.string())
        self.counts: I64 = np.zeros(0, np.int64)
        self.max_error = 0  # every count may be short by up to this much
        self.total = 0
        self.hll: HyperLogLog | None = None  # set once the table stops being exact

    @property
    def exact(self) -> bool:
        return self.hll is None

    def update(self, values: Any, counts: Any = None, hashes: U64 | None = None) -> None:
        """Add distinct `values` (a pa.StringArray) seen `counts` times; raw values when counts is None."""
        if len(values) == 0:
            return
        if counts is None:
            vc = pc.value_counts(values)
            values, counts = vc.field("values"), vc.field("counts").to_numpy()
            hashes = None
        counts = np.asarray(counts, dtype=np.int64)
        self.total += int(counts.sum())
        if self.hll is not None:
            self.hll.update_hashes(hash_strings(values) if hashes is None else hashes)
            values, counts = self._reduce(values, counts)
            if len(values) == 0:  # on unique-ish columns the batch usually reduces to nothing
                return
            hashes = None  # of the values before the reduction
        self._absorb(values, counts, hashes)

    def _cut(self, counts: I64) -> int:
        """The (width + 1)-th largest count (0 when there are at most `width` values)."""
        if len(counts) <= self.width:
            return 0
        repeated = counts[counts > 1]
        if len(repeated) <= self.width:
            return 1  # the common high-cardinality case; np.partition is slow on runs of equal counts
        top = int(repeated.max())
        if top > 4 * len(repeated) + 4096:  # a few huge counts: a histogram would be mostly empty
            return int(np.partition(repeated, len(repeated) - self.width - 1)[len(repeated) - self.width - 1])
        # Counts are small integers: a histogram of them finds the cut in two linear passes.
        at_least = np.cumsum(np.bincount(repeated, minlength=top + 1)[::-1])[::-1]  # values with count >= c
        return int(np.flatnonzero(at_least > self.width)[-1])

    def _reduce(self, values: Any, counts: I64) -> tuple[Any, I64]:
        """Misra-Gries step on one batch: keep the `width` largest counts, less the next one."""
        cut = self._cut(counts)
        if cut == 0:
            return values, counts
        keep = counts > cut
        self.max_error += cut
        return values.filter(pa.array(keep)), counts[keep] - cut

    def merge(self, other: FrequentValues) -> None:
        if other.hll is not None:
            if self.hll is None:
                self._go_approximate()
            assert self.hll is not None
            self.hll.merge(other.hll)
        elif self.hll is not None:
            self.hll.update_strings(other.values)
        self.max_error += other.max_error
        self.total += other.total
        self._absorb(other.values, other.counts)

    def _absorb(self, values: Any, counts: I64, hashes: U64 | None = None) -> None:
        """Fold in distinct (value, count) pairs (`hashes`: of `values`, when known)."""
        before = self.values
        self.values, self.counts = merge_counts(self.values, self.counts, values, counts)
        if self.hll is None and (len(self.values) > self.exact_limit or self.values.nbytes > self.max_bytes):
            # The merged set's sketch is the union of the old table's and the batch's: the batch
            # comes with its hashes, so only the old table (at most exact_limit values) is hashed.
            self.hll = HyperLogLog()
            self.hll.update_strings(before)
            self.hll.update_hashes(hash_strings(values) if hashes is None else hashes)
        if self.hll is not None:
            self._prune()

    def _go_approximate(self) -> None:
        self.hll = HyperLogLog()
        self.hll.update_strings(self.values)

    def _prune(self) -> None:
        """Misra-Gries step: subtract the first count that does not fit, drop what hits zero."""
        n = len(self.values)
        # Up to twice `width` counters may wait for the next prune (more counters only make
        # the counts tighter), so a column pays for the sort every few batches, not every one.
        if n <= 2 * self.width and self.values.nbytes <= self.max_bytes:
            return
        counts = self.counts
        if self.values.nbytes <= self.max_bytes:  # the usual case: keep `width`, no sort needed
            cut = self._cut(counts)  # no np.partition, which is slow on runs of equal counts
        else:
            order = np.argsort(-counts, kind="stable")
            sizes = pc.binary_length(self.values).to_numpy()[order].cumsum()
            keep = min(self.width, max(1, int(np.searchsorted(sizes, self.max_bytes, side="right"))))
            if keep >= n:
                return
            cut = int(counts[order[keep]])
        survivors = counts > cut
        self.values = self.values.filter(pa.array(survivors))
        self.counts = counts[survivors] - cut
        self.max_error += cut

    def distinct(self) -> tuple[int, bool, float]:
        """(estimate, approximate, relative standard error)."""
        if self.hll is None:
            return len(self.values), False, 0.0
        return max(self.hll.estimate(), len(self.values)), True, self.hll.relative_error

    def top(self, k: int = 10) -> list[tuple[str, int]]:
        """The k largest counts, ties broken by value so output is deterministic."""
        if len(self.values) == 0:
            return []
        table = pa.table({"v": self.values, "c": pa.array(self.counts, type=pa.int64())})
        idx = pc.sort_indices(table, sort_keys=[("c", "descending"), ("v", "ascending")])[:k]
        picked = table.take(idx)
        return list(zip(picked.column("v").to_pylist(), picked.column("c").to_pylist(), strict=True))
