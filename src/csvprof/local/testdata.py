"""Seeded generator of realistic CSVs for tests and benchmarks, in several shapes.

Vectorized: numpy draws the randomness, pyarrow.compute builds the strings and
pyarrow's CSV writer does the quoting, one chunk of rows at a time, so 50 MB
takes a couple of seconds and memory stays bounded by the chunk size.

`SHAPES` names the shapes: `mixed` (the default: 11 typed and text columns), `narrow`
(5 decimals), `wide` (240 mixed columns), `text` (UUIDs, e-mails, free text with quotes,
commas and newlines in quoted fields), `timestamps` (ISO 8601 with fractions and offsets,
dates), `sparse` (60 % of the cells in every column but `id` empty) and `dirty` (ragged
rows, padded cells, mixed types, unparseable numbers; written as raw lines, not by the
CSV writer, since a table cannot be ragged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

COLUMNS: Final = (
    "id", "amount", "quantity", "order_date", "updated_at", "active",
    "category", "zip", "uuid", "email", "comment",
)  # fmt: skip

_CATEGORIES: Final = pa.array(
    [
        "books",
        "games",
        "garden",
        "kitchen",
        "music",
        "office",
        "outdoor",
        "pets",
        "shoes",
        "tools",
        "toys",
        "video",
    ]
)
_WORDS: Final = pa.array(
    [
        "the", "order", "arrived", "late", "great", "value", "box, damaged", 'said "ok"',
        "refund", "again", "five stars", "would buy", "line one\nline two", "meh", "fast", "ship;ped",
        "colour|size", "tab\there", "naïve café", "",
    ]
)  # fmt: skip
_NAMES: Final = pa.array(["ann", "bob", "chen", "dara", "eve", "femi", "gus", "hana", "ivan", "jo"])
_DOMAINS: Final = pa.array(["example.com", "mail.test", "corp.example", "shop.invalid"])
_HEX: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_EPOCH_DAY: Final = np.datetime64("2015-01-01", "D")


def _fixed_width(chars: np.ndarray[Any, np.dtype[np.uint8]]) -> Any:
    """An (n, w) uint8 matrix of ASCII as a pa.StringArray, without Python strings."""
    n, w = chars.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars)))


def _uuids(rng: np.random.Generator, n: int) -> Any:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    nibbles = np.empty((n, 32), dtype=np.uint8)
    nibbles[:, 0::2], nibbles[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 0x0F]
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    parts = [nibbles[:, 0:8], dash, nibbles[:, 8:12], dash, nibbles[:, 12:16], dash, nibbles[:, 16:20], dash]
    return _fixed_width(np.hstack([*parts, nibbles[:, 20:32]]))


def _pick(rng: np.random.Generator, values: Any, n: int) -> Any:
    return pc.take(values, pa.array(rng.integers(0, len(values), size=n)))


def _with_nulls(rng: np.random.Generator, values: Any, rate: float, marker: str = "") -> Any:
    mask = pa.array(rng.random(len(values)) < rate)
    return pc.if_else(mask, pa.scalar(marker), values)


def _chunk(rng: np.random.Generator, start: int, n: int, null_rate: float) -> pa.Table:
    ids = pa.array(np.arange(start, start + n, dtype=np.int64))
    # Typed columns are written unquoted; a null float is written as an empty field.
    amount = pa.array(np.round(rng.lognormal(3.0, 1.0, n), 2), mask=rng.random(n) < null_rate)
    quantity = pa.array(rng.integers(-5, 500, n))
    days = _EPOCH_DAY + rng.integers(0, 3650, n).astype("timedelta64[D]")
    order_date = pc.cast(pa.array(days), pa.string())
    seconds = days.astype("datetime64[s]") + rng.integers(0, 86_400, n).astype("timedelta64[s]")
    updated_at = pc.strftime(pa.array(seconds), format="%Y-%m-%dT%H:%M:%SZ")
    active = pa.array(rng.random(n) < 0.5)
    zips = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 100_000, n)), pa.string()), 5, "0")
    email = pc.binary_join_element_wise(
        _pick(rng, _NAMES, n),
        pc.cast(pa.array(rng.integers(0, 10_000, n)), pa.string()),
        pa.scalar("@"),
        _pick(rng, _DOMAINS, n),
        "",
    )
    comment = pc.binary_join_element_wise(*[_pick(rng, _WORDS, n) for _ in range(5)], " ")
    columns = [
        ids, amount, quantity, order_date, updated_at, active,
        _pick(rng, _CATEGORIES, n), zips, _uuids(rng, n), email, _with_nulls(rng, comment, null_rate, "NA"),
    ]  # fmt: skip
    return pa.table(dict(zip(COLUMNS, columns, strict=True)))


def _nulled(rng: np.random.Generator, values: Any, rate: float) -> Any:
    """`values` with a share `rate` of them null (the CSV writer writes a null as an empty field)."""
    return pc.if_else(pa.array(rng.random(len(values)) < rate), pa.scalar(None, values.type), values)


def _decimal(rng: np.random.Generator, n: int, digits: int, scale: float = 1.0) -> Any:
    return pa.array(np.round(rng.lognormal(3.0, 1.0, n) * scale, digits))


def _dates(rng: np.random.Generator, n: int) -> Any:
    days = _EPOCH_DAY + rng.integers(0, 3650, n).astype("timedelta64[D]")
    return pc.cast(pa.array(days), pa.string())


def _text(rng: np.random.Generator, n: int, words: int) -> Any:
    return pc.binary_join_element_wise(*[_pick(rng, _WORDS, n) for _ in range(words)], " ")


def _email(rng: np.random.Generator, n: int, high: int) -> Any:
    number = pc.cast(pa.array(rng.integers(0, high, n)), pa.string())
    return pc.binary_join_element_wise(
        _pick(rng, _NAMES, n), number, pa.scalar("@"), _pick(rng, _DOMAINS, n), ""
    )


def _mixed(rng: np.random.Generator, start: int, n: int, null_rate: float, delimiter: str) -> pa.Table:
    return _chunk(rng, start, n, null_rate)


def _narrow(rng: np.random.Generator, start: int, n: int, null_rate: float, delimiter: str) -> pa.Table:
    return pa.table(
        {
            "x": pa.array(rng.normal(0.0, 1.0, n)),
            "y": pa.array(np.round(rng.normal(100.0, 15.0, n), 3)),
            "price": _decimal(rng, n, 2),
            "ratio": pa.array(rng.random(n)),
            "temperature": pa.array(np.round(rng.normal(15.0, 10.0, n), 1)),
        }
    )


WIDE_KINDS: Final = ("int", "dec", "cat", "flag", "date", "name")
WIDE_COLUMNS: Final = 240


def _wide(rng: np.random.Generator, start: int, n: int, null_rate: float, delimiter: str) -> pa.Table:
    columns: dict[str, Any] = {}
    for i in range(WIDE_COLUMNS):
        kind = WIDE_KINDS[i % len(WIDE_KINDS)]
        if kind == "int":
            values = pa.array(rng.integers(-1000, 1_000_000, n))
        elif kind == "dec":
            values = _nulled(rng, _decimal(rng, n, 2), null_rate)
        elif kind == "cat":
            values = _pick(rng, _CATEGORIES, n)
        elif kind == "flag":
            values = pa.array(rng.random(n) < 0.5)
        elif kind == "date":
            values = _dates(rng, n)
        else:
            values = _nulled(rng, _pick(rng, _NAMES, n), null_rate)
        columns[f"{kind}_{i:03d}"] = values
    return pa.table(columns)


_SURNAMES: Final = pa.array(
    ["smith", "okafor", "li", "garcia", "müller", "o'brien", "nguyen", "khan", "rossi"]
)


def _text_shape(rng: np.random.Generator, start: int, n: int, null_rate: float, delimiter: str) -> pa.Table:
    full_name = pc.binary_join_element_wise(_pick(rng, _NAMES, n), _pick(rng, _SURNAMES, n), " ")
    title = pc.binary_join_element_wise(
        _text(rng, n, 3), pc.cast(pa.array(rng.integers(0, 1_000_000, n)), pa.string()), ", #"
    )
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "uuid": _uuids(rng, n),
            "email": _email(rng, n, 10_000_000),
            "full_name": full_name,
            "title": title,
            "body": _nulled(rng, _text(rng, n, 12), null_rate),
        }
    )


_OFFSETS: Final = pa.array(["Z", "+00:00", "+02:00", "-05:00", "+05:30", "-08:00", "+01", "-03"])


def _stamps(rng: np.random.Generator, n: int, unit: str, sep: str, offsets: Any) -> Any:
    """ISO 8601 text: `unit` ("ms", "us", "s") sets the fraction's digits; `offsets` is a suffix array."""
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000}[unit]
    ticks = rng.integers(0, 3650 * 86_400 * per_second, n)
    moments = _EPOCH_DAY.astype(f"datetime64[{unit}]") + ticks.astype(f"timedelta64[{unit}]")
    # A cast writes "YYYY-MM-DD hh:mm:ss[.f]" about ten times as fast as strftime.
    text = pc.cast(pa.array(moments), pa.string())
    if sep != " ":
        text = pc.utf8_replace_slice(text, 10, 11, sep)
    return pc.binary_join_element_wise(text, offsets, "")


def _timestamps(rng: np.random.Generator, start: int, n: int, null_rate: float, delimiter: str) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
            "event_date": _dates(rng, n),
            "created_at": _stamps(rng, n, "ms", "T", pa.scalar("Z")),
            "updated_at": _stamps(rng, n, "us", "T", _pick(rng, _OFFSETS, n)),
            "logged_at": _stamps(rng, n, "s", " ", _pick(rng, _OFFSETS, n)),
            "shipped_on": _nulled(rng, _dates(rng, n), null_rate),
            "delivered_at": _nulled(rng, _stamps(rng, n, "ms", "T", _pick(rng, _OFFSETS, n)), null_rate),
            "amount": _decimal(rng, n, 2),
        }
    )


SPARSE_RATE: Final = 0.6


def _sparse(rng: np.random.Generator, start: int, n: int, null_rate: float, delimiter: str) -> pa.Table:
    columns = {
        "amount": _decimal(rng, n, 2),
        "quantity": pa.array(rng.integers(-5, 500, n)),
        "order_date": _dates(rng, n),
        "active": pa.array(rng.random(n) < 0.5),
        "category": _pick(rng, _CATEGORIES, n),
        "email": _email(rng, n, 10_000),
        "score": pa.array(rng.normal(0.0, 1.0, n)),
        "note": _text(rng, n, 3),
    }
    sparse = {name: _nulled(rng, values, SPARSE_RATE) for name, values in columns.items()}
    return pa.table({"id": pa.array(np.arange(start, start + n, dtype=np.int64)), **sparse})


DIRTY_COLUMNS: Final = ("id", "amount", "quantity", "code", "flag", "when", "note")
_GARBAGE: Final = pa.array(["N/A", "12.3.4", "--", "$12.00", "1e", "abc", "4O2", "∞"])
_QUANTITY_WORDS: Final = pa.array(["twelve", "3.5", "n/a", " 42", "7 ", "none", "1/2"])
_FLAGS: Final = pa.array(["yes", "no", "TRUE", "false", "1", "0", "Y", ""])


def _dirty(rng: np.random.Generator, start: int, n: int, null_rate: float, delimiter: str) -> bytes:
    """Raw lines (a table cannot be ragged); no cell holds the delimiter, a quote or a newline."""
    amount = pc.cast(_decimal(rng, n, 2), pa.string())
    amount = pc.if_else(pa.array(rng.random(n) < 0.02), _pick(rng, _GARBAGE, n), amount)
    quantity = pc.cast(pa.array(rng.integers(0, 500, n)), pa.string())
    quantity = pc.if_else(pa.array(rng.random(n) < 0.3), _pick(rng, _QUANTITY_WORDS, n), quantity)
    code = _pick(rng, _CATEGORIES, n)
    code = pc.if_else(pa.array(rng.random(n) < 0.2), pc.utf8_center(code, 12, " "), code)
    day = _dates(rng, n)
    european = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(day, 8, 10),
        pc.utf8_slice_codeunits(day, 5, 7),
        pc.utf8_slice_codeunits(day, 0, 4),
        "/",
    )
    when = pc.if_else(pa.array(rng.random(n) < 0.2), european, day)
    note = _pick(rng, _NAMES, n)
    cells = [
        pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string()),
        amount, quantity, code, _pick(rng, _FLAGS, n), when, note,
    ]  # fmt: skip
    full = pc.binary_join_element_wise(*cells, delimiter)
    short = pc.binary_join_element_wise(*cells[:-1], delimiter)
    long = pc.binary_join_element_wise(*cells, pa.scalar("extra"), delimiter)
    draw = rng.random(n)
    # The first rows stay regular: the header and the dialect are read from the head.
    draw[: max(0, 20 - start)] = 1.0
    lines = pc.if_else(pa.array(draw < 0.01), short, pc.if_else(pa.array(draw < 0.02), long, full))
    head = (delimiter.join(DIRTY_COLUMNS) + "\n").encode() if start == 0 else b""
    return head + _joined(pc.binary_join_element_wise(lines, pa.scalar("\n"), ""))


def _joined(values: Any) -> bytes:
    """A string array's values one after another, straight from its data buffer."""
    first = values.offset
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[first : first + len(values) + 1]
    return bytes(memoryview(values.buffers()[2])[offsets[0] : offsets[-1]])


@dataclass(frozen=True)
class Shape:
    """How to make `n` rows from row `start` (a table for the CSV writer, or raw CSV bytes)."""

    chunk: Callable[[np.random.Generator, int, int, float, str], pa.Table | bytes]
    bytes_per_row: float  # a first guess; each chunk's size corrects it
    chunk_rows: int  # at most this many rows a chunk (about 10 MB)


SHAPES: Final[dict[str, Shape]] = {
    "mixed": Shape(_mixed, 200.0, 50_000),
    "narrow": Shape(_narrow, 80.0, 100_000),
    "wide": Shape(_wide, 1_800.0, 5_000),
    "text": Shape(_text_shape, 250.0, 40_000),
    "timestamps": Shape(_timestamps, 190.0, 50_000),
    "sparse": Shape(_sparse, 70.0, 100_000),
    "dirty": Shape(_dirty, 60.0, 100_000),
}


def write_csv(
    path: Path,
    target_bytes: int,
    seed: int = 0,
    *,
    shape: str = "mixed",
    null_rate: float = 0.05,
    delimiter: str = ",",
    chunk_rows: int | None = None,
) -> int:
    """Write about `target_bytes` of `shape` CSV (header + rows) to `path`; returns the data rows."""
    kind = SHAPES[shape]
    most = chunk_rows if chunk_rows is not None else kind.chunk_rows
    rng = np.random.default_rng(seed)
    options = pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed")
    rows = 0
    with pa.OSFile(str(path), "wb") as sink:
        writer: Any = None
        try:
            bytes_per_row = kind.bytes_per_row
            while sink.tell() < target_bytes:
                n = max(1, min(most, int((target_bytes - sink.tell()) / bytes_per_row) + 1))
                before = sink.tell()
                table = kind.chunk(rng, rows, n, null_rate, delimiter)
                if isinstance(table, bytes):
                    sink.write(table)
                else:
                    writer = writer or pacsv.CSVWriter(sink, table.schema, write_options=options)
                    writer.write_table(table)
                rows += n
                bytes_per_row = max(1.0, (sink.tell() - before) / n)
        finally:
            if writer is not None:
                writer.close()
    return rows
