"""8-byte words of an Arrow text buffer, read at any byte offset (hashing, prefix keys)."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

# _TAIL[r]: the low r bytes of a little-endian word (r = 8: the whole word).
_TAIL: Final = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def tail_mask(nbytes: npt.NDArray[np.integer]) -> U64:
    """Masks keeping the low `nbytes` (0-8) bytes of little-endian words."""
    masks: U64 = _TAIL.take(nbytes)
    return masks


def aligned_words(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """`data` as 8-byte words; a copy only when the buffer does not start 8-byte aligned."""
    if data.ctypes.data % 8:
        data = data.copy()  # rare: Arrow allocates 64-byte aligned buffers
    words: npt.NDArray[np.uint64] = data[: len(data) - len(data) % 8].view(np.uint64)
    return words


def word_at(words: npt.NDArray[np.uint64], pos: I64) -> U64:
    """The little-endian 8-byte words starting at byte offsets `pos`, from two aligned words each.

    Aligned gathers are several times faster than unaligned ones; a shift by 64 gives 0 in numpy, so
    aligned positions need no high part.
    """
    q = pos >> 3
    shift = ((pos & 7) * 8).astype(np.uint64)
    word: U64 = (words.take(q) >> shift) | (words.take(q + 1) << (np.uint64(64) - shift))
    return word
