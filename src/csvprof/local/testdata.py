"""Seeded generator of realistic mixed-type CSVs for tests and benchmarks.

Vectorized: numpy draws the randomness, pyarrow.compute builds the strings and
pyarrow's CSV writer does the quoting, one chunk of rows at a time, so 50 MB
takes a couple of seconds and memory stays bounded by the chunk size.
"""

from __future__ import annotations

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


def write_csv(
    path: Path,
    target_bytes: int,
    seed: int = 0,
    *,
    null_rate: float = 0.05,
    delimiter: str = ",",
    chunk_rows: int = 50_000,
) -> int:
    """Write about `target_bytes` of CSV (header + rows) to `path`; returns the number of data rows."""
    rng = np.random.default_rng(seed)
    options = pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed")
    rows = 0
    with pa.OSFile(str(path), "wb") as sink:
        writer: Any = None
        try:
            bytes_per_row = 200.0
            while sink.tell() < target_bytes:
                n = max(1, min(chunk_rows, int((target_bytes - sink.tell()) / bytes_per_row) + 1))
                before = sink.tell()
                table = _chunk(rng, rows, n, null_rate)
                writer = writer or pacsv.CSVWriter(sink, table.schema, write_options=options)
                writer.write_table(table)
                rows += n
                bytes_per_row = max(1.0, (sink.tell() - before) / n)
        finally:
            if writer is not None:
                writer.close()
    return rows
