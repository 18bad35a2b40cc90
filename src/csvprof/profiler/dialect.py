"""Dialect sniffing from the first bytes of a file (64 KiB by default).

Decides encoding, delimiter, line terminator, the lines of title or notes before
the table (skipped), and whether the table's first row is a header. Uses Python's
csv module on a small decoded sample: cheap, and it follows the same quoting rules
as the Arrow parser that reads the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
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
# Lines of title or notes before the table that are skipped, at most (docs/data-contracts.md).
MAX_PREAMBLE_LINES: Final = 20
# Consecutive integer header cells (years, 1..n) that make a header, at least.
MIN_SEQUENCE_CELLS: Final = 3

_BOM_UTF8: Final = codecs.BOM_UTF8
# UTF-16 with a BOM is transcoded before sniffing (source.Utf8Transcoder); UTF-32 is refused.
_BOMS_UNSUPPORTED: Final = {
    codecs.BOM_UTF32_LE: "UTF-32",
    codecs.BOM_UTF32_BE: "UTF-32",
}
_TYPED: Final = tuple(
    (kind, re.compile(p))
    for kind, p in (
        ("integer", INTEGER_RE),
        ("decimal", DECIMAL_RE),
        ("date", DATE_RE),
        ("datetime", DATETIME_RE),
    )
)
_NON_STRING_WORDS: Final = frozenset(BOOLEAN_WORDS)
_ABSENT: Final = frozenset(NULL_MARKERS)


@dataclass(frozen=True, slots=True)
class Sniffed:
    dialect: Dialect
    bom_bytes: int  # bytes to drop from the start of the stream
    field_count: int  # fields in the table's first row
    preamble_bytes: int = 0  # then the bytes of the skipped lines (dialect.skipped_lines)

    @property
    def body_start(self) -> int:
        """Where the table starts in the head: after the BOM and the skipped lines."""
        return self.bom_bytes + self.preamble_bytes


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


class _Lines:
    """The sample's lines for csv.reader, counting the lines and characters handed out."""

    def __init__(self, sample: str) -> None:
        self._lines = io.StringIO(sample, newline="")  # splits at \n, \r\n and \r only
        self.count = 0
        self.chars = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.count += 1
        self.chars += len(line)
        return line


@dataclass(frozen=True, slots=True)
class _Sample:
    rows: list[list[str]]  # non-blank rows
    starts: list[tuple[int, int]]  # (line, character) where each row starts


def _rows(sample: str, delimiter: str, complete: bool) -> _Sample:
    rows: list[list[str]] = []
    starts: list[tuple[int, int]] = []
    lines = _Lines(sample)
    reader = csv.reader(lines, delimiter=delimiter, quotechar=QUOTE_CHAR)
    try:
        while True:
            start = (lines.count, lines.chars)  # csv.reader reads no line ahead of its row
            row = next(reader, None)
            if row is None:
                break
            if row:
                rows.append(row)
                starts.append(start)
            if len(rows) > _SAMPLE_ROWS:
                break
    except csv.Error:
        complete = False
    if not complete and len(rows) > 1:
        rows.pop()  # the sample ends mid-row
        starts.pop()
    return _Sample(rows, starts)


def _delimiter_score(rows: list[list[str]], skipped: int) -> tuple[bool, float, int, int]:
    """(splits at all, share of rows with the modal field count, fewer rows skipped, modal field count),
    over the rows after the `skipped` rows of title or notes."""
    rows = rows[skipped:]
    if not rows:
        return False, 0.0, 0, 0
    mode, freq = Counter(len(r) for r in rows).most_common(1)[0]
    return mode > 1, freq / len(rows), -skipped, mode


def _preamble(sample: _Sample) -> int:
    """How many rows of title or notes come before the table (0 for most files).

    The table starts at a row within the first MAX_PREAMBLE_LINES lines that has more fields
    than every row before it, is followed by a row with as many, and whose field count is the
    most common one from there on; the widest such row, since notes are narrower than a table.
    """
    counts = [len(r) for r in sample.rows]
    table = widest_before = 0
    for i, width in enumerate(counts[:-1]):
        if sample.starts[i][0] > MAX_PREAMBLE_LINES:
            break
        if width > widest_before and counts[i + 1] == width:
            frequency = Counter(counts[i:])
            if frequency[width] == max(frequency.values()):
                table = i
        widest_before = max(widest_before, width)
    return table


def _kind(cell: str) -> str | None:
    """Type of a sample cell: None (absent), integer, decimal, date, datetime, boolean or string."""
    if cell in _ABSENT or not cell.strip():
        return None
    if cell in _NON_STRING_WORDS:
        return "boolean"
    for kind, pattern in _TYPED:
        if pattern.match(cell):
            return kind
    return "string"


def _mostly_typed(column: list[str]) -> bool:
    """Whether typed values outnumber strings in a sampled column (on a tie: its first value's kind)."""
    strings = column.count("string")
    typed = len(column) - strings
    return typed > strings or (typed == strings and column[0] != "string")


def _consecutive(values: list[int]) -> bool:
    """Consecutive increasing integers, like years or 1..n."""
    return all(b - a == 1 for a, b in itertools.pairwise(values))


def _numbered(kinds: list[list[str | None]], rows: list[list[str]], typed: list[int]) -> set[int]:
    """Columns whose first-row cells are consecutive integers (1960, 1961, ...): names.

    At least MIN_SEQUENCE_CELLS of the typed columns' first-row cells are consecutive
    integers, and no row below has consecutive integers in those columns (a table of
    counting numbers is data).
    """
    columns = [j for j in typed if kinds[0][j] == "integer"]
    if len(columns) < MIN_SEQUENCE_CELLS or not _consecutive([int(rows[0][j]) for j in columns]):
        return set()
    for r, row_kinds in zip(rows[1:], kinds[1:], strict=True):
        if all(j < len(r) and row_kinds[j] == "integer" for j in columns) and _consecutive(
            [int(r[j]) for j in columns]
        ):
            return set()
    return set(columns)


def _has_header(rows: list[list[str]]) -> bool:
    """Whether the first row holds names (docs/data-contracts.md, "How a file is read").

    Text over typed columns is a header, as is a typed first row whose cells are of a type
    that never occurs below them (integers over decimals) or consecutive integers (years over
    numbers); another typed first row over typed columns is data.
    """
    kinds = [[_kind(c) for c in r] for r in rows]  # each cell classified once
    first = kinds[0]
    if len(rows) == 1:
        seen = [k for k in first if k is not None]
        return not seen or "string" in seen
    text_names = 0
    typed: list[int] = []  # columns with a typed first row over typed values
    unlike: set[int] = set()  # ... whose first-row type never occurs below
    for j, head in enumerate(first):
        column = [k for r in kinds[1:] if j < len(r) and (k := r[j]) is not None]
        if not column or head is None or not _mostly_typed(column):
            continue
        if head == "string":
            text_names += 1
            continue
        typed.append(j)
        if len(column) > 1 and head not in column:
            unlike.add(j)
    if text_names:
        return True
    named = unlike | _numbered(kinds, rows, typed) if typed else set()
    # Without such names, as before: all-text files have a header, typed-over-typed is data.
    return not typed or len(named) > len(typed) - len(named)


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
    text, decoded = _decode(body, at_eof)
    encoding = decoded
    if bom_bytes:
        encoding = "utf-8-sig"
    if transcoded_from is not None:
        encoding = transcoded_from
    if not at_eof:  # drop the partial last line
        cut = max(text.rfind("\n"), text.rfind("\r"))
        text = text[: cut + 1] if cut > 0 else text
    by_delimiter = {d: _rows(text, d, at_eof) for d in DELIMITERS}
    # A long preamble would outvote the table: each delimiter is scored on its table alone.
    preambles = {d: _preamble(sample) for d, sample in by_delimiter.items()}
    delimiter = max(DELIMITERS, key=lambda d: _delimiter_score(by_delimiter[d].rows, preambles[d]))
    sample = by_delimiter[delimiter]
    skipped = preambles[delimiter]
    rows = sample.rows[skipped:]
    skipped_lines, skipped_chars = sample.starts[skipped] if skipped else (0, 0)
    dialect = Dialect(
        encoding=encoding,
        delimiter=delimiter,
        quote_char=QUOTE_CHAR,
        header=_has_header(rows) if rows else True,
        line_terminator=_line_terminator(text[skipped_chars:]),
        skipped_lines=skipped_lines,
    )
    # cp1252 decodes one byte per character; everything else here is UTF-8.
    preamble_bytes = len(text[:skipped_chars].encode("cp1252" if decoded == "cp1252" else "utf-8"))
    return Sniffed(
        dialect=dialect,
        bom_bytes=bom_bytes,
        field_count=len(rows[0]) if rows else 0,
        preamble_bytes=preamble_bytes,
    )
