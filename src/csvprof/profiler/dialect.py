"""Dialect sniffing from the first bytes of a file (64 KiB by default).

Decides encoding, delimiter, line terminator and whether the first row is a
header. Uses Python's csv module on a small decoded sample: cheap, and it
follows the same quoting rules as the Arrow parser that reads the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from typing import Final

from csvprof.contracts.profile import Dialect
from csvprof.errors import EmptyFile, EncodingError
from csvprof.profiler.types import (
    BOOLEAN_WORDS,
    DATE_RE,
    DATETIME_RE,
    DECIMAL_RE,
    INTEGER_RE,
    NULL_MARKERS,
)

SNIFF_BYTES: Final = 64 * 1024
DELIMITERS: Final = (",", ";", "\t", "|")
QUOTE_CHAR: Final = '"'
_SAMPLE_ROWS: Final = 200

_BOM_UTF8: Final = codecs.BOM_UTF8
# UTF-16 with a BOM is transcoded before sniffing (source.Utf8Transcoder); UTF-32 is refused.
_BOMS_UNSUPPORTED: Final = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
}
_TYPED: Final = [re.compile(p) for p in (INTEGER_RE, DECIMAL_RE, DATE_RE, DATETIME_RE)]
_NON_STRING_WORDS: Final = frozenset(BOOLEAN_WORDS)
_ABSENT: Final = frozenset(NULL_MARKERS)


@dataclass(frozen=True, slots=True)
class Sniffed:
    dialect: Dialect
    bom_bytes: int  # bytes to drop from the start of the stream
    field_count: int  # fields in the first row


def _decode(body: bytes, at_eof: bool) -> tuple[str, str]:
    try:
        # Incremental so a multi-byte character cut at the sample's end is not an error.
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=at_eof), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise EncodingError("the file is neither UTF-8 nor Windows-1252 text") from exc


def _line_terminator(text: str) -> str:
    in_quotes = False
    for i, ch in enumerate(text):
        if ch == QUOTE_CHAR:
            in_quotes = not in_quotes
        elif not in_quotes and ch in "\r\n":
            return "\r\n" if text[i : i + 2] == "\r\n" else ch
    return "\n"


def _rows(sample: str, delimiter: str, complete: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, quotechar=QUOTE_CHAR)
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) > _SAMPLE_ROWS:
                break
    except csv.Error:
        complete = False
    if not complete and len(rows) > 1:
        rows.pop()  # the sample ends mid-row
    return rows


def _delimiter_score(rows: list[list[str]]) -> tuple[bool, float, int]:
    """(splits at all, share of rows with the modal field count, modal field count)."""
    if not rows:
        return False, 0.0, 0
    mode, freq = Counter(len(r) for r in rows).most_common(1)[0]
    return mode > 1, freq / len(rows), mode


def _kind(cell: str) -> str | None:
    """Coarse type of a sample cell: None (absent), 'string' or 'typed'."""
    if cell in _ABSENT or not cell.strip():
        return None
    if cell in _NON_STRING_WORDS or any(p.match(cell) for p in _TYPED):
        return "typed"
    return "string"


def _has_header(rows: list[list[str]]) -> bool:
    """A header row is text above typed columns; a typed first row over typed columns is data."""
    first = [_kind(c) for c in rows[0]]
    if len(rows) == 1:
        seen = [k for k in first if k is not None]
        return not seen or "string" in seen
    for_header = for_data = 0
    for j, head in enumerate(first):
        below = Counter(k for r in rows[1:] if j < len(r) and (k := _kind(r[j])) is not None)
        if not below or head is None:
            continue
        dominant = below.most_common(1)[0][0]
        if dominant == "typed" and head == "string":
            for_header += 1
        elif dominant == "typed" and head == "typed":
            for_data += 1
    return for_header > 0 or for_data == 0


def sniff(head: bytes, at_eof: bool, transcoded_from: str | None = None) -> Sniffed:
    """Sniff the dialect from the first bytes; `at_eof` says whether `head` is the whole file.

    `transcoded_from` names the source encoding when `head` is UTF-8 transcoded from UTF-16.
    """
    for bom, name in _BOMS_UNSUPPORTED.items():
        if head.startswith(bom):
            raise EncodingError(f"{name} text is not supported; re-save the file as UTF-8")
    bom_bytes = len(_BOM_UTF8) if head.startswith(_BOM_UTF8) else 0
    body = head[bom_bytes:]
    if at_eof and not body.strip():
        raise EmptyFile("the file has no content" if not body else "the file holds only whitespace")
    if b"\x00" in body:
        raise EncodingError("the file contains NUL bytes: binary data or UTF-16 without a byte order mark")
    text, encoding = _decode(body, at_eof)
    if bom_bytes:
        encoding = "utf-8-sig"
    if transcoded_from is not None:
        encoding = transcoded_from
    if not at_eof:  # drop the partial last line
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut > 0 else text
    by_delimiter = {d: _rows(text, d, at_eof) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: _delimiter_score(by_delimiter[d]))
    rows = by_delimiter[delimiter]
    dialect = Dialect(
        encoding=encoding,
        delimiter=delimiter,
        quote_char=QUOTE_CHAR,
        header=_has_header(rows) if rows else True,
        line_terminator=_line_terminator(text),
    )
    return Sniffed(dialect=dialect, bom_bytes=bom_bytes, field_count=len(rows[0]) if rows else 0)
