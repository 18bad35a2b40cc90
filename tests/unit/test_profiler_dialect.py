"""Files as people hand them over: numbers as column names, title and notes before the table.

The header rule and the preamble rule are in docs/data-contracts.md ("How a file is read");
every file here also has a twin that must stay as it was (data stays data, no line is skipped).
"""

from __future__ import annotations

import io
import random
from typing import Any

import pytest

from csvprof.limits import ProfileLimits
from csvprof.profiler import ArrowProfileEngine
from csvprof.profiler.dialect import MAX_PREAMBLE_LINES
from tests.support.budget import budget
from tests.support.contracts import assert_valid
from tests.unit.test_profiler_engine import Stream

YEARS = [str(y) for y in range(1960, 2014)]


def profile(data: bytes, *, stream: bool = False, block_size: int | None = None) -> dict[str, Any]:
    source: Any = io.BufferedReader(Stream(data, chunk=997)) if stream else io.BytesIO(data)
    result = (
        ArrowProfileEngine(block_size=block_size, workers=1)
        .profile(source, size=None if stream else len(data), budget=budget(ProfileLimits(max_columns=100)))
        .to_dict()
    )
    assert_valid("profile", result)
    return result


def table(rows: list[list[str]], eol: str = "\n") -> str:
    return "".join(",".join(r) + eol for r in rows)


def decimals(n_rows: int, n_cols: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    return [[f"{rng.uniform(0, 100):.2f}" for _ in range(n_cols)] for _ in range(n_rows)]


def growing(n_rows: int, n_cols: int, seed: int = 0) -> list[list[str]]:
    """Integer series that grow along the row, like populations by year (never by a fixed step)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n_rows):
        value, row = rng.randint(10_000, 90_000_000), []
        for _ in range(n_cols):
            value += rng.randint(1, 5_000)
            row.append(str(value))
        rows.append(row)
    return rows


# --- numbers as column names -----------------------------------------------------------------


@pytest.mark.parametrize("label", [False, True], ids=["years-only", "country-and-years"])
@pytest.mark.parametrize("body", [decimals, growing], ids=["over-decimals", "over-growing-integers"])
def test_years_as_names_over_numeric_columns_are_a_header(label: bool, body: Any) -> None:
    rows = body(220, len(YEARS))
    head = (["country"] if label else []) + YEARS
    if label:
        rows = [[f"c{i}", *r] for i, r in enumerate(rows)]
    result = profile(table([head, *rows]).encode())
    assert result["dialect"]["header"] is True
    assert result["dataset"]["rows"] == 220
    assert [c["name"] for c in result["columns"]] == head
    years = result["columns"][1 if label else 0]
    assert years["inferred_type"] in ("decimal", "integer")
    assert years["type_counts"]["integer"] == (220 if body is growing else 0)


def test_counting_numbers_over_decimals_are_a_header() -> None:
    head = [str(i) for i in range(1, 6)]
    result = profile(table([head, *decimals(10, 5)]).encode())
    assert result["dialect"]["header"] is True
    assert [c["name"] for c in result["columns"]] == head


def test_integer_names_over_decimals_need_not_be_a_sequence() -> None:
    # Codes, not years: no progression, but no integer occurs under them.
    head = ["101", "205", "333"]
    result = profile(table([head, *decimals(8, 3)]).encode())
    assert (result["dialect"]["header"], result["dataset"]["rows"]) == (True, 8)


def test_years_over_dates_are_a_header() -> None:
    rows = [["2019", "2020"], *[[f"2019-0{m}-01", f"2020-0{m}-15"] for m in range(1, 8)]]
    result = profile(table(rows).encode())
    assert result["dialect"]["header"] is True
    assert [c["inferred_type"] for c in result["columns"]] == ["date", "date"]


@pytest.mark.parametrize(
    "rows",
    [
        [["1", "2"], ["3", "4"], ["5", "6"]],  # integers over integers, too few for a sequence
        [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]],  # every row a progression: a matrix
        [["10", "20", "30", "40"], ["11", "13", "12", "50"], ["9", "8", "30", "7"]],  # in step, not by one
        [["1", "2", "3", "4"], ["5", "6", "7", "8"], ["2", "9", "4", "1"]],  # a data row counting up by one
        [
            ["1", "2.5", "3"],
            ["2", "10.5", "4"],
            ["3", "11.5", "5"],
        ],  # one integer over decimals, two like below
        [["3", "4.5"], ["2.5", "1"], ["7", "2.25"], ["8.5", "6"]],  # integers occur below too
        [["2.5", "1.5"], ["3.5", "7.25"], ["1.0", "0.5"]],  # decimals over decimals
        [["2024-01-01", "5"], ["2024-01-02", "6"], ["2024-01-03", "7"]],  # a time series
    ],
    ids=[
        "small-ints",
        "matrix",
        "step-of-ten",
        "a-counting-row-below",
        "one-unlike-column",
        "mixed-column",
        "decimals",
        "series",
    ],
)
def test_a_typed_first_row_like_its_columns_stays_data(rows: list[list[str]]) -> None:
    result = profile(table(rows).encode())
    assert result["dialect"]["header"] is False
    assert result["dataset"]["rows"] == len(rows)
    assert [c["original_name"] for c in result["columns"]] == [None] * len(rows[0])


def test_years_as_data_in_a_year_column_stay_data() -> None:
    # A column of years: the first is one of them, not a name.
    rows = [[str(1960 + i), f"{i * 1.5:.1f}"] for i in range(10)]
    result = profile(table(rows).encode())
    assert (result["dialect"]["header"], result["dataset"]["rows"]) == (False, 10)


# --- title and notes before the table --------------------------------------------------------

PREAMBLE = ["Population by country", '"Source: World Bank, WDI"', "", "Last updated: 2024-07-01"]
TABLE = [
    ["country", "code", "pop"],
    ["Aruba", "ABW", "106"],
    ["Chad", "TCD", "17179"],
    ["Peru", "PER", "33715"],
]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("stream", [False, True], ids=["sized", "stream"])
def test_title_and_notes_are_skipped_and_reported(eol: str, stream: bool) -> None:
    data = (eol.join(PREAMBLE) + eol + table(TABLE, eol)).encode()
    result = profile(data, stream=stream)
    assert result["dialect"]["skipped_lines"] == len(PREAMBLE)
    assert (result["dialect"]["header"], result["dialect"]["line_terminator"]) == (True, eol)
    assert [c["name"] for c in result["columns"]] == TABLE[0]
    assert result["dataset"] == {
        "rows": 3,
        "columns": 3,
        "bytes": len(data),
        "ragged_rows": 0,
        "duplicate_rows": {"estimate": 0, "approximate": False, "absolute_error": 0},
    }
    assert result["warnings"][0] == {
        "code": "PREAMBLE_SKIPPED",
        "column": None,
        "message": "lines of title or notes before the table were skipped",
        "numbers": {"lines": len(PREAMBLE)},
    }
    # The table reads as it would on its own (the runtime and the preamble's traces aside).
    alone = profile(table(TABLE, eol).encode())
    assert result["columns"] == alone["columns"]
    assert result["warnings"][1:] == alone["warnings"]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("cp1252", b""), ("utf-16-le", b"\xff\xfe")],
    ids=["utf-8", "utf-8-bom", "cp1252", "utf-16"],
)
def test_the_skip_counts_bytes_not_characters(encoding: str, bom: bytes) -> None:
    title = "Bevölkerung – Übersicht, Stand: März"  # noqa: RUF001 - an en dash on purpose: 3 bytes in UTF-8
    rows = [["Land", "Kürzel", "Einwohner"], ["Österreich", "AUT", "9104"], ["Schweiz", "CHE", "8812"]]
    data = bom + (title + "\n\n" + table(rows)).encode(encoding)
    result = profile(data)
    assert result["dialect"]["skipped_lines"] == 2
    assert [c["name"] for c in result["columns"]] == rows[0]
    assert result["columns"][0]["top_values"][0]["value"] == "Schweiz"
    assert result["dataset"]["bytes"] == len(data)


def test_a_skipped_title_over_years_gives_the_years_as_names() -> None:
    # The World Bank's layout: notes, then a header with a label and years, over decimals.
    notes = '"Data Source","World Development Indicators",\n\n"Last Updated Date","2024-06-28",\n\n'
    head = ["Country Name", *YEARS[:10]]
    rows = [[f"C{i}", *r] for i, r in enumerate(decimals(30, 10))]
    result = profile((notes + table([head, *rows])).encode(), block_size=1024)
    assert result["dialect"]["skipped_lines"] == 4
    assert [c["name"] for c in result["columns"]] == head
    assert (result["dataset"]["rows"], result["dataset"]["ragged_rows"]) == (30, 0)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Population by country,x,y\n" + table(TABLE), "a title as wide as the table is its first row"),
        ("a,b,c,d\n" + table(TABLE), "a first row wider than the table is no title"),
        (
            "\n".join(f"note {i}" for i in range(MAX_PREAMBLE_LINES + 1)) + "\n" + table(TABLE),
            "over the bound",
        ),
        ("Title\n" + table(TABLE[:1]), "a title over a header-only table: counts are not consistent yet"),
    ],
    ids=["as-wide", "wider", "too-long", "no-second-row"],
)
def test_nothing_is_skipped_unless_the_rule_holds(text: str, why: str) -> None:
    result = profile(text.encode())
    assert result["dialect"]["skipped_lines"] == 0, why
    assert "PREAMBLE_SKIPPED" not in [w["code"] for w in result["warnings"]]


def test_a_preamble_at_the_bound_is_skipped() -> None:
    notes = "".join(f"note {i}\n" for i in range(MAX_PREAMBLE_LINES))
    result = profile((notes + table(TABLE)).encode())
    assert result["dialect"]["skipped_lines"] == MAX_PREAMBLE_LINES
    assert result["dataset"]["rows"] == 3


def test_a_data_row_that_alone_counts_up_by_one_reads_as_a_header() -> None:
    # The documented cost of the rule: indistinguishable from names 5, 6, 7 over integers.
    result = profile(table([["5", "6", "7"], ["12", "3", "40"], ["8", "1", "22"]]).encode())
    assert (result["dialect"]["header"], result["dataset"]["rows"]) == (True, 2)
