"""The byte stream Arrow reads: the sniffed head replayed, then the rest of the source.

Counts bytes (progress, FILE_TOO_LARGE on streams of unknown size), and cuts the
stream into chunks of whole rows (quote-parity scan) that threads parse independently.
"""

from __future__ import annotations

import codecs
import io
import mmap
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

import numpy as np

from csvprof.errors import EncodingError, FieldTooLarge, FileTooLarge

Buffer = bytearray | mmap.mmap  # where chunks are read: both take slice assignment and rfind


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

    def __init__(self, prefix: bytes, rest: BinaryIO, *, consumed: int, max_bytes: int) -> None:
        super().__init__()
        self._prefix = prefix
        self._rest = rest
        self._max_bytes = max_bytes
        self.bytes_read = consumed  # bytes taken from the source, including ones skipped (BOM)

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
        return data

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix or not hasattr(self._rest, "readinto"):
            data = self.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        got = self._rest.readinto(buffer) or 0  # straight into the chunk buffer: no copy
        self.bytes_read += got
        if self.bytes_read > self._max_bytes:
            raise FileTooLarge(f"the file is larger than {self._max_bytes} bytes")
        return got


COUNT_BLOCK: Final = 256 * 1024


def count_byte(buf: bytes | Buffer | memoryview, byte: int, end: int | None = None) -> int:
    """How many times `byte` occurs in buf[:end].

    numpy counts several times faster than bytes.count, block by block into one small scratch
    array: a chunk-sized temporary would fault in fresh pages on each of the first chunks,
    which costs far more than the count itself.
    """
    data = np.frombuffer(buf, dtype=np.uint8, count=len(buf) if end is None else end)
    scratch = np.empty(min(len(data), COUNT_BLOCK), dtype=bool)
    total = 0
    for start in range(0, len(data), COUNT_BLOCK):
        block = data[start : start + COUNT_BLOCK]
        hits = scratch[: len(block)]
        np.equal(block, byte, out=hits)
        total += int(np.count_nonzero(hits))
    return total


def last_row_end(buf: bytes | Buffer, terminator: bytes, quote: bytes, size: int | None = None) -> int:
    """Index just past the last terminator outside quotes, or -1.

    A terminator ends a row when an even number of quote characters precede it:
    chunks always start at a row boundary, so parity restarts at 0 in each one.
    Scans backwards from the end, usually only a row or two.
    """
    pos = buf.rfind(terminator, 0, len(buf) if size is None else size)
    if pos < 0:
        return -1
    quotes = count_byte(buf, quote[0], pos)
    while quotes % 2:
        prev = buf.rfind(terminator, 0, pos)
        if prev < 0:
            return -1
        quotes -= count_byte(memoryview(buf)[prev:pos], quote[0])
        pos = prev
    return pos + len(terminator)


def row_chunks(
    stream: io.RawIOBase | BinaryIO,
    block_size: int,
    terminator: bytes,
    quote: bytes,
    buffer: Callable[[int], Buffer] = bytearray,
) -> Iterator[memoryview]:
    """Whole-row chunks of about `block_size` bytes, for parsing in parallel.

    Each chunk is a view of the buffer `buffer(size)` gave for it (read in place, never
    copied; only the partial last row is carried into the next buffer). Raises
    FieldTooLarge when one row (or an unterminated quoted field) outgrows a block, so
    memory stays bounded.
    """
    rest = b""
    while True:
        buf = buffer(max(block_size, len(rest) + 1))
        buf[: len(rest)] = rest
        filled = len(rest)
        view = memoryview(buf)
        while filled < len(buf):
            got = stream.readinto(view[filled:])  # type: ignore[union-attr]
            if not got:
                break
            filled += got
        if filled == len(rest):  # end of stream
            if rest:
                # The last row lacks a terminator. Arrow reads a lone row without one as an
                # empty file, so a header-only file would have no columns: add it here, once.
                yield memoryview(bytearray(rest + terminator))
            return
        end = last_row_end(buf, terminator, quote, filled)
        if end < 0:
            if filled >= block_size:
                raise FieldTooLarge(
                    f"a row is larger than the {block_size}-byte block (or a quoted field is never closed)"
                )
            rest = bytes(view[:filled])
            continue
        rest = bytes(view[end:filled])
        yield view[:end]


UTF16_BOMS: Final = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}


def utf16_encoding(head: bytes) -> str | None:
    """utf-16-le / utf-16-be when `head` starts with that byte order mark (and is not UTF-32)."""
    if head.startswith(codecs.BOM_UTF32_LE):
        return None
    return next((name for bom, name in UTF16_BOMS.items() if head.startswith(bom)), None)


class Utf8Transcoder(io.RawIOBase):
    """UTF-16 (with BOM) bytes in, UTF-8 bytes out, streaming; counts the source bytes consumed.

    The parser and the row splitter only ever see UTF-8; the BOM is dropped.
    """

    def __init__(self, head: bytes, rest: BinaryIO, encoding: str) -> None:
        super().__init__()
        self._pending = head[2:]  # without the BOM
        self._rest = rest
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._out = b""
        self._eof = False
        self.source_bytes = len(head)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else 1 << 62
        while len(self._out) < want and not self._eof:
            if self._pending:
                data, self._pending = self._pending, b""
            else:
                data = self._rest.read(1 << 20) or b""
                self.source_bytes += len(data)
                self._eof = not data
            try:
                self._out += self._decoder.decode(data, final=self._eof).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise EncodingError("the file is not valid UTF-16 text") from exc
        out, self._out = self._out[:want], self._out[want:]
        return out

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
