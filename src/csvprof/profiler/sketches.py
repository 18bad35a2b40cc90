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

import functools
import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

U64 = npt.NDArray[np.uint64]

_P: Final = np.uint64(0x100000001B3)  # odd, so it is invertible mod 2**64
_P_INV: Final = np.uint64(pow(0x100000001B3, -1, 2**64))


_HASH_SLICE_BYTES: Final = 256 * 1024  # bounds the power tables and the temporaries


@functools.lru_cache(maxsize=4)
def _powers(n: int) -> tuple[U64, U64]:
    """P**i and P**-i (mod 2**64) for i < n; n is a power of two, so few sizes are ever cached."""
    with np.errstate(over="ignore"):
        fwd = np.multiply.accumulate(np.full(n, _P, dtype=np.uint64))
        inv = np.multiply.accumulate(np.full(n, _P_INV, dtype=np.uint64))
    fwd = np.concatenate([np.ones(1, np.uint64), fwd[:-1]])
    inv = np.concatenate([np.ones(1, np.uint64), inv[:-1]])
    return fwd, inv


def _mix(h: U64) -> U64:
    """splitmix64 finalizer: spreads the polynomial hash over all 64 bits."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        mixed: U64 = h ^ (h >> np.uint64(31))
        return mixed


def _hash_slice(data: npt.NDArray[np.uint8], rel: npt.NDArray[np.int64]) -> U64:
    """Hashes of data[rel[i]:rel[i+1]]: prefix sums of b[j] * P**j, rebased by P**-start."""
    fwd, inv = _powers(1 << max(12, len(data).bit_length()))
    with np.errstate(over="ignore"):
        weighted = (data.astype(np.uint64) + np.uint64(1)) * fwd[: len(data)]
        prefix = np.concatenate([np.zeros(1, np.uint64), np.cumsum(weighted, dtype=np.uint64)])
        h = (prefix[rel[1:]] - prefix[rel[:-1]]) * inv[rel[:-1]]
        hashed: U64 = h ^ ((rel[1:] - rel[:-1]).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        return hashed


def hash_strings(values: Any) -> U64:
    """64-bit hashes of a pa.StringArray, vectorized over slices of about 256 KiB of text."""
    arr = values.cast(pa.string()) if values.type != pa.string() else values
    n = len(arr)
    if n == 0:
        return np.zeros(0, np.uint64)
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[arr.offset : arr.offset + n + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    out = np.empty(n, dtype=np.uint64)
    i = 0
    while i < n:
        # Take values until the slice holds _HASH_SLICE_BYTES (always at least one value).
        j = int(np.searchsorted(offsets, offsets[i] + _HASH_SLICE_BYTES, side="right")) - 1
        j = min(n, max(j, i + 1))
        lo, hi = int(offsets[i]), int(offsets[j])
        out[i:j] = _hash_slice(data[lo:hi], offsets[i : j + 1] - lo)
        i = j
    return _mix(out)


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
        shift = np.uint64(64 - self.p)
        idx = (h >> shift).astype(np.intp)
        # Rank = leading zeros of the remaining bits + 1; a guard bit caps it at 64 - p + 1.
        w = (h << np.uint64(self.p)) | (np.uint64(1) << np.uint64(self.p - 1))
        for s in (1, 2, 4, 8, 16, 32):
            w |= w >> np.uint64(s)
        rank = (65 - np.bitwise_count(w)).astype(np.uint8)
        np.maximum.at(self.registers, idx, rank)

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


def _group_sum(values: Any, counts: Any) -> tuple[Any, Any]:
    table = pa.table({"v": values, "c": counts}).group_by("v").aggregate([("c", "sum")])
    return table.column("v").combine_chunks(), table.column("c_sum").combine_chunks()


class FrequentValues:
    """Value counts: exact up to `exact_limit` distinct values / `max_bytes`, then Misra-Gries."""

    __slots__ = (
        "counts", "exact_limit", "hll", "max_bytes", "max_error", "pending", "pending_bytes", "total",
        "values", "width",
    )  # fmt: skip

    def __init__(self, exact_limit: int = 10_000, width: int = 1_024, max_bytes: int = 4 << 20) -> None:
        self.exact_limit = exact_limit
        self.width = width
        self.max_bytes = max_bytes
        self.values: Any = pa.array([], type=pa.string())
        self.counts: Any = pa.array([], type=pa.int64())
        self.max_error = 0  # every count may be short by up to this much
        self.total = 0
        self.hll: HyperLogLog | None = None  # set once the table stops being exact
        # Per-chunk value counts not yet folded in: one group-by per many chunks is far cheaper.
        self.pending: list[Any] = []
        self.pending_bytes = 0

    @property
    def exact(self) -> bool:
        self.flush()
        return self.hll is None

    def update(self, values: Any) -> None:
        """Add a chunk of (non-null, non-empty) values."""
        if len(values) == 0:
            return
        vc = pc.value_counts(values)
        self.pending.append(vc)
        self.pending_bytes += vc.nbytes
        self.total += len(values)
        if self.pending_bytes > self.max_bytes // 2 or len(self.pending) >= 32:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        vcs, self.pending, self.pending_bytes = self.pending, [], 0
        values = pa.concat_arrays([vc.field("values") for vc in vcs])
        counts = pa.concat_arrays([vc.field("counts") for vc in vcs])
        self._absorb(values, counts, 0, grouped=len(vcs) == 1)

    def merge(self, other: FrequentValues) -> None:
        self.flush()
        other.flush()
        if other.hll is not None:
            if self.hll is None:
                self._go_approximate()
            assert self.hll is not None
            self.hll.merge(other.hll)
        self.max_error += other.max_error
        self._absorb(other.values, other.counts, other.total)

    def _absorb(self, values: Any, counts: Any, total: int, grouped: bool = True) -> None:
        """Fold in (value, count) pairs; `grouped` says the values are already distinct."""
        self.total += total
        if len(self.values):
            values, counts = pa.concat_arrays([self.values, values]), pa.concat_arrays([self.counts, counts])
            grouped = False
        if not grouped:
            values, counts = _group_sum(values, counts)
        if self.hll is not None:
            self.hll.update_strings(values)
        self.values, self.counts = values, counts
        if self.hll is None and (len(values) > self.exact_limit or values.nbytes > self.max_bytes):
            self._go_approximate()
        if self.hll is not None:
            self._prune()

    def _go_approximate(self) -> None:
        self.hll = HyperLogLog()
        self.hll.update_strings(self.values)

    def _prune(self) -> None:
        """Misra-Gries step: subtract the first count that does not fit, drop what hits zero."""
        n = len(self.values)
        if n <= self.width and self.values.nbytes <= self.max_bytes:
            return
        counts = self.counts.to_numpy()
        order = np.argsort(-counts, kind="stable")
        sizes = pc.binary_length(self.values).to_numpy()[order].cumsum()
        keep = min(self.width, max(1, int(np.searchsorted(sizes, self.max_bytes, side="right"))))
        if keep >= n:
            return
        cut = int(counts[order[keep]])
        survivors = counts > cut
        self.values = self.values.filter(pa.array(survivors))
        self.counts = pa.array(counts[survivors] - cut)
        self.max_error += cut

    def distinct(self) -> tuple[int, bool, float]:
        """(estimate, approximate, relative standard error)."""
        self.flush()
        if self.hll is None:
            return len(self.values), False, 0.0
        return max(self.hll.estimate(), len(self.values)), True, self.hll.relative_error

    def top(self, k: int = 10) -> list[tuple[str, int]]:
        """The k largest counts, ties broken by value so output is deterministic."""
        self.flush()
        if len(self.values) == 0:
            return []
        table = pa.table({"v": self.values, "c": self.counts})
        idx = pc.sort_indices(table, sort_keys=[("c", "descending"), ("v", "ascending")])[:k]
        picked = table.take(idx)
        return list(zip(picked.column("v").to_pylist(), picked.column("c").to_pylist(), strict=True))
