"""One chunk of whole rows in, a table of text columns out: Arrow's CSV reader, configured once.

Every column is read as text (csvprof infers types itself); a column that repeats its values
is dictionary-encoded while it is parsed, and one that is nearly all distinct is read plain
(`Parser.observe` follows the data, with hysteresis).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

# pyarrow imports numpy.ma on its first pa.array(ndarray): paid at import, not in the first chunk.
import numpy.ma
import pyarrow as pa
import pyarrow.csv as pacsv

from csvprof.errors import CsvParseError, EncodingError, FieldTooLarge
from csvprof.limits import ProfileLimits
from csvprof.profiler.dialect import Sniffed

_TEXT: Final = pa.dictionary(pa.int32(), pa.binary())  # UTF-8, checked per chunk: see Parser.parse
_PLAIN: Final = pa.binary()
# A column whose chunk is more than this share distinct values is read plain (no dictionary);
# it goes back to a dictionary below PLAIN_BELOW. A dictionary of nearly unique values is as
# big as the column and still costs its hashing, so plain text grouped by hash is cheaper
# there; at the share of zip codes (a dictionary still wins) plain costs more.
PLAIN_ABOVE: Final = 0.9
PLAIN_BELOW: Final = 0.75


class _RaggedRows:
    """invalid_row_handler: counts rows with the wrong number of fields and skips them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, row: Any) -> str:
        self.count += 1  # one handler per chunk, and Arrow parses a chunk on one thread
        return "skip"


def _arrow_error(exc: pa.ArrowInvalid, block_size: int) -> Exception:
    # Arrow reports this condition only through ArrowInvalid's text (UTF-8 is checked up front).
    text = str(exc)
    if "straddl" in text:
        return FieldTooLarge(f"a row is larger than the parser's block ({block_size} bytes)")
    return CsvParseError(f"the CSV could not be parsed: {text}")


def _check_utf8(chunk: bytes | memoryview) -> None:
    """EncodingError unless the whole chunk is UTF-8: one validation pass over its bytes."""
    whole = pa.Array.from_buffers(
        pa.large_binary(),
        1,
        [None, pa.py_buffer(np.array([0, len(chunk)], dtype=np.int64)), pa.py_buffer(chunk)],
    )
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid as exc:
        raise EncodingError("the file is not valid UTF-8 text") from exc


class Parser:
    """Parses one chunk of whole rows into a table of text columns (dictionary-encoded or plain)."""

    def __init__(self, sniffed: Sniffed, limits: ProfileLimits, block_size: int) -> None:
        self.dialect = sniffed.dialect
        self.limits = limits
        self.block_size = block_size
        self.names: list[str] | None = None  # fixed by the first chunk
        # Columns read as plain text rather than dictionary-encoded; follows the data (observe).
        # Threads parse while others observe: a list of bools is read and written atomically.
        self.plain: list[bool] = []
        # Arrow parses a chunk in blocks of this many bytes; None: the whole chunk is one block.
        # A worker that holds parsed chunks for a joint fold (workers._Held) parses in halves:
        # Arrow's parse takes several times its block in memory, while the parsed table is small.
        self.arrow_block: int | None = None

    def observe(self, distinct_shares: list[float]) -> None:
        """Read mostly-distinct columns plain (a dictionary of unique values is wasted work)."""
        was = self.plain  # one read: another thread may replace the list
        if len(was) != len(distinct_shares):
            was = [False] * len(distinct_shares)
        # Hysteresis, so a column near the line does not flip every chunk; both paths are exact.
        self.plain = [
            share > PLAIN_ABOVE or (plain and share > PLAIN_BELOW)
            for share, plain in zip(distinct_shares, was, strict=True)
        ]

    def _plain(self) -> list[bool]:
        plain = self.plain  # one read: another thread may replace the list
        return (
            plain
            if self.names is not None and len(plain) == len(self.names)
            else [False] * len(self.names or ())
        )

    def parse(self, chunk: bytes | memoryview) -> tuple[Any, int]:
        """(table of binary columns holding UTF-8 text, ragged rows skipped) for one chunk."""
        if self.dialect.encoding == "cp1252":
            try:
                chunk = str(chunk, "cp1252").encode("utf-8")
            except UnicodeDecodeError as exc:
                raise EncodingError("the file is not valid Windows-1252 text") from exc
        else:
            _check_utf8(chunk)
        ragged = _RaggedRows()
        names = self.names
        n_types = len(names) if names is not None else self.limits.max_columns + 1
        whole = len(chunk) + 1
        read_options = pacsv.ReadOptions(
            # Arrow carries a row longer than its block into the next one.
            block_size=max(min(self.arrow_block or whole, whole), 1 << 16),
            use_threads=False,  # parallelism is across chunks
            column_names=names,
            autogenerate_column_names=names is None,
        )
        parse_options = pacsv.ParseOptions(
            delimiter=self.dialect.delimiter,
            quote_char=self.dialect.quote_char,
            newlines_in_values=True,
            invalid_row_handler=ragged,
        )
        # Arrow fixes column types from the first block, so read text and classify ourselves.
        # Dictionary-encoded while parsing: every statistic works on distinct values, and this
        # costs less than parsing plain strings and encoding them afterwards.
        # Binary, not string: the chunk was validated as UTF-8 in one pass over its bytes,
        # which is cheaper than Arrow validating every value on its own.
        convert_options = pacsv.ConvertOptions(
            column_types={f"f{i}": _TEXT for i in range(n_types)}
            if names is None
            else {name: _PLAIN if plain else _TEXT for name, plain in zip(names, self._plain(), strict=True)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        try:
            table = pacsv.read_csv(
                pa.py_buffer(chunk),
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return pa.table({}), ragged.count
            raise _arrow_error(exc, self.block_size) from exc
        return table, ragged.count
