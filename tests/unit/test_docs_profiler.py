"""docs/data-contracts.md and docs/profiler.md state the numbers the profiler's code defines."""

from __future__ import annotations

import re

import pytest

from csvprof.limits import MiB
from csvprof.profiler import columns, engine, parser, partial, sketches, system, workers
from csvprof.profiler.dialect import MAX_PREAMBLE_LINES, MIN_SEQUENCE_CELLS, SNIFF_BYTES
from tests.support.contracts import ROOT, validator

KiB = 1024


def _size(n: int) -> str:
    """64 KiB, 6 MiB: as the docs write sizes."""
    return f"{n // MiB} MiB" if n % MiB == 0 else f"{n // KiB} KiB"


def _share(x: float) -> str:
    return f"{round(x * 100)} %"


def _text(name: str, start: str | None = None, end: str | None = None) -> str:
    """The doc (or its part from heading `start` to heading `end`), whitespace collapsed."""
    text = (ROOT / "docs" / name).read_text()
    if start is not None:
        text = text[text.index(start) :]
    if end is not None:
        text = text[: text.index(end)]
    return " ".join(text.split())


PROCESS_CHUNK, THREAD_CHUNK = _size(engine.PROCESS_BLOCK_SIZE), _size(engine.THREAD_BLOCK_SIZE)
STATE, COLUMN_MAX, COLUMN_MIN = (
    _size(n) for n in (partial.STATE_BYTES, partial.COLUMN_STATE_MAX, partial.COLUMN_STATE_MIN)
)
MMAP, TRIM = _size(system.MMAP_THRESHOLD_BYTES), _size(system.TRIM_THRESHOLD_BYTES)
HOW_A_FILE_IS_READ = ("data-contracts.md", "### How a file is read", "### Fields")

STATED = {
    HOW_A_FILE_IS_READ: [
        f"sniffed from the first {_size(SNIFF_BYTES)}",
        f"({PROCESS_CHUNK} when the workers are processes, the default on Linux;"
        f" {THREAD_CHUNK} when they are threads)",
        f"more than {_share(parser.PLAIN_ABOVE)} distinct values, the column is read plain"
        f" (until a chunk has {_share(parser.PLAIN_BELOW)} or fewer)",
        f"The table starts at a row within the first {MAX_PREAMBLE_LINES} lines",
        f"at least {MIN_SEQUENCE_CELLS} consecutive integer cells",
    ],
    ("data-contracts.md", "### Fields", None): [
        f"sampled every {_size(engine.RSS_SAMPLE_BYTES)} of input",
        f"({STATE} shared by all columns and workers:"
        f" at most {COLUMN_MAX} and at least {COLUMN_MIN} per column and worker)",
        f"NUL bytes in the first {_size(SNIFF_BYTES)}",
        f"larger than a chunk, {PROCESS_CHUNK} ({THREAD_CHUNK} with threads)",
        f"memory every {_size(engine.RSS_SAMPLE_BYTES)}",
    ],
    ("profiler.md", None, None): [
        f"reads the first {_size(SNIFF_BYTES)}",
        f"Chunks are {PROCESS_CHUNK} when the workers are processes and {THREAD_CHUNK} when they are threads",
        f"Its rows in the first {_size(engine.HEAD_BYTES)} are parsed in the calling thread",
        f"more than {_share(parser.PLAIN_ABOVE)} distinct values",
        f"when a chunk has {_share(parser.PLAIN_BELOW)} or fewer",
        f"{workers.SLOTS_PER_PROCESS} slots per process",
        f"share {STATE}: at most {COLUMN_MAX} and at least {COLUMN_MIN} per column and partial",
        f"Memory is read every {_size(engine.RSS_SAMPLE_BYTES)} of input",
        f"(mmap threshold {MMAP}, trim threshold {TRIM})",
        f"would pass {columns.PENDING_VALUES:,} cells",
        f"{sketches.CountTable.INDEX_BYTES} bytes a cell besides its text",
        f"fewer than {workers.FOLD_ROWS:,} rows and at most {workers.FOLD_CHUNKS} chunks",
        f"spanning at most {_size(sketches.PADDED_COPY_BYTES)}",
    ],
}


@pytest.mark.parametrize(("where", "phrase"), [(w, p) for w, ps in STATED.items() for p in ps])
def test_the_doc_states_the_code_number(where: tuple[str, str | None, str | None], phrase: str) -> None:
    assert phrase in _text(*where)


def test_how_a_file_is_read_states_no_other_size_or_share() -> None:
    """A number there that no constant backs is a stale one."""
    text = _text(*HOW_A_FILE_IS_READ)
    sizes = {_size(n) for n in (SNIFF_BYTES, engine.PROCESS_BLOCK_SIZE, engine.THREAD_BLOCK_SIZE)}
    assert set(re.findall(r"\d+ [KM]iB", text)) == sizes
    assert set(re.findall(r"\d+ %", text)) == {_share(parser.PLAIN_ABOVE), _share(parser.PLAIN_BELOW)}


def test_data_contracts_links_the_design_doc() -> None:
    assert "[profiler.md](profiler.md)" in _text("data-contracts.md")


def test_the_schema_bounds_skipped_lines_by_the_code_constant() -> None:
    skipped = validator("profile").schema["properties"]["dialect"]["properties"]["skipped_lines"]
    assert (skipped["minimum"], skipped["maximum"]) == (0, MAX_PREAMBLE_LINES)
    assert f"at most {MAX_PREAMBLE_LINES}" in skipped["description"]
