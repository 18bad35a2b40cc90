"""The byte stream Arrow reads: the sniffed head replayed, then the rest of the source.

Counts bytes (progress, FILE_TOO_LARGE on streams of unknown size) and quote
characters (an odd total means an unterminated quoted field, which Arrow would
otherwise swallow silently up to end of file).
"""

from __future__ import annotations

import io
from typing import BinaryIO

from csvprof.errors import FileTooLarge


def read_head(source: BinaryIO, n: int) -> tuple[bytes, bool]:
    """Up to n bytes (a stream may return short reads); True when the source is exhausted."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = source.read(n - got)
        if not part:
            return b"".join(parts), True
        parts.append(part)
        got += len(part)
    return b"".join(parts), False


class CountingSource(io.RawIOBase):
    """Read-only, non-seekable raw stream over `prefix` + `rest`."""

    def __init__(self, prefix: bytes, rest: BinaryIO, *, consumed: int, max_bytes: int, quote: bytes) -> None:
        super().__init__()
        self._prefix = prefix
        self._rest = rest
        self._max_bytes = max_bytes
        self._quote = quote
        self.bytes_read = consumed  # bytes taken from the source, including ones skipped (BOM)
        self.quotes = prefix.count(quote)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size < 0 or size >= len(self._prefix):
                out, self._prefix = self._prefix, b""
            else:
                out, self._prefix = self._prefix[:size], self._prefix[size:]
            return out
        data = self._rest.read(size if size >= 0 else -1) or b""
        self.bytes_read += len(data)
        if self.bytes_read > self._max_bytes:
            raise FileTooLarge(f"the file is larger than {self._max_bytes} bytes")
        self.quotes += data.count(self._quote)
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
