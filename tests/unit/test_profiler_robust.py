"""Malformed and awkward input: always a schema-valid profile or a csvprof error, in bounded memory."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from csvprof import errors
from csvprof.limits import ProfileLimits
from csvprof.profiler import ArrowProfileEngine
from csvprof.profiler.source import COUNT_BLOCK, count_byte
from tests.support.budget import budget
from tests.support.contracts import assert_valid

BUDGET = budget(ProfileLimits(max_columns=50, max_field_bytes=1 << 20))


def run(data: bytes, block_size: int = 1 << 20, workers: int = 2) -> dict[str, Any]:
    result = (
        ArrowProfileEngine(block_size=block_size, workers=workers)
        .profile(io.BytesIO(data), size=len(data), budget=BUDGET)
        .to_dict()
    )
    assert_valid("profile", result)
    return result


def exact_view(profile: dict[str, Any]) -> list[Any]:
    """Fields that must not depend on how the file was cut into blocks."""
    keep = ("name", "inferred_type", "type_counts", "null_count", "empty_count", "min", "max", "length",
            "distinct", "top_values", "leading_zeros", "whitespace_padded")  # fmt: skip
    return [profile["dataset"], [{k: c[k] for k in keep} for c in profile["columns"]], profile["warnings"]]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_quoted_newlines_across_many_small_blocks_match_python_csv(eol: str) -> None:
    rows = [["id", "note"]] + [
        [str(i), f"line {i}{eol}more, {i}" if i % 3 else f'say ""{i}""'] for i in range(400)
    ]
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=eol).writerows(rows)
    data = buf.getvalue().encode()
    small, whole = run(data, block_size=512), run(data)
    assert small["dataset"]["rows"] == 400
    assert exact_view(small) == exact_view(whole)
    assert small["columns"][1]["length"]["max"] == max(len(r[1]) for r in rows[1:])


def test_stray_quote_inside_an_unquoted_field_is_a_parse_error_or_a_profile() -> None:
    with pytest.raises(errors.CsvParseError):
        run(b'a,b\n1,x"y\n2,z\n')
    result = run(b'a,b\n1,x"y"z\n2,z\n')  # even count: Arrow keeps the quotes as text
    assert result["dataset"]["rows"] == 2


def test_unterminated_quote_in_a_file_larger_than_a_block_is_field_too_large() -> None:
    # No terminator after the open quote has even quote parity, so no row ever ends: the chunker
    # stops at one block (bounded memory) before the end-of-file parity check could run.
    data = b"a,b\n" + b'1,"open\n' + b"2,3\n" * 50_000
    with pytest.raises(errors.FieldTooLarge):
        run(data, block_size=64 * 1024)


def test_a_single_line_larger_than_a_block_is_field_too_large() -> None:
    data = b"x" * (3 << 20)  # no line terminator at all
    with pytest.raises(errors.FieldTooLarge):
        run(data, block_size=256 * 1024)


def test_a_single_line_of_many_fields_is_too_many_columns() -> None:
    # The sniffer counts the fields of the first 64 KiB: over the limit before any block is cut.
    data = b",".join([b"1"] * 200_000) + b"\n"
    with pytest.raises(errors.TooManyColumns):
        run(data, block_size=256 * 1024)


def test_nul_bytes_after_the_sniffed_head_are_profiled_as_text() -> None:
    # Only the sniffed head is checked for NUL bytes; later control bytes are valid UTF-8 text.
    data = b"a,b\n" + b"1,2\n" * 20_000 + b"3,\x00\x01\x02\n"
    result = run(data)
    assert result["dataset"]["rows"] == 20_001
    assert result["columns"][1]["type_counts"]["string"] == 1


# Arrow decodes a ragged row's text for the row handler and reports the UnicodeDecodeError as
# "unraisable" before failing the parse; the engine then names the real cause.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_binary_after_the_sniffed_head_is_an_encoding_error() -> None:
    data = b"a,b\n" + b"1,2\n" * 20_000 + bytes(range(128, 256)) + b"\n"
    with pytest.raises(errors.EncodingError):
        run(data)


def test_blank_lines_only_after_header_is_a_zero_row_profile() -> None:
    result = run(b"a,b\n\n\n\r\n")
    assert result["dataset"]["rows"] == 0
    assert [w["code"] for w in result["warnings"]] == []


def test_duplicate_blank_names_and_ragged_rows_are_warned_about() -> None:
    result = run(b"a,a,\n1,2,3\n4\n5,6,7,8\n9,10,11\n")
    codes = [w["code"] for w in result["warnings"]]
    assert "DUPLICATE_COLUMN_NAMES" in codes
    assert "RAGGED_ROWS" in codes
    ragged = next(w for w in result["warnings"] if w["code"] == "RAGGED_ROWS")
    assert ragged["numbers"] == {"ragged_rows": 2, "rows": 2}


def test_the_quality_warnings_carry_their_numbers() -> None:
    rows = ["id,const,empty,zip,pad,mix,text"]
    rows += [f"{i},k,,{i % 50:05d}, v{i % 7} ,{i if i % 2 else 'x' + str(i)},t{i}" for i in range(1, 2001)]
    result = run(("\n".join(rows) + "\n").encode())
    by_code: dict[str, dict[str, Any]] = {}
    for w in result["warnings"]:
        by_code.setdefault(w["code"] + ":" + str(w["column"]), w)
    assert by_code["UNIQUE:id"]["numbers"] == {"distinct": 2000, "present": 2000}
    assert by_code["CONSTANT:const"]["numbers"] == {"distinct": 1, "present": 2000}
    assert by_code["ALL_NULL:empty"]["numbers"] == {"rows": 2000}
    assert by_code["LEADING_ZEROS:zip"]["numbers"]["values"] == 2000 - sum(
        1 for i in range(1, 2001) if i % 50 >= 10_000
    )
    assert by_code["WHITESPACE_PADDING:pad"]["numbers"] == {"values": 2000, "present": 2000}
    assert by_code["MIXED_TYPES:mix"]["numbers"] == {"integer": 1000, "string": 1000}
    assert by_code["UNIQUE:text"]["numbers"]["distinct"] == 2000
    high_null = run(b"a,b\n" + b"1,\n" * 6 + b"2,x\n" * 4)
    hn = next(w for w in high_null["warnings"] if w["code"] == "HIGH_NULL_RATIO")
    assert hn["numbers"] == {"null_or_empty": 6, "rows": 10, "ratio": 0.6}


def test_high_cardinality_strings_are_flagged_once_approximate() -> None:
    body = "".join(f"user-{i}@example.com,{i % 3}\n" for i in range(30_000))
    result = run(("email,k\n" + body).encode())
    email = next(w for w in result["warnings"] if w["column"] == "email")
    assert email["code"] == "HIGH_CARDINALITY"
    assert email["numbers"]["approximate"] is True
    assert abs(email["numbers"]["distinct"] - 30_000) <= 4 * email["numbers"]["relative_error"] * 30_000


cells = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["", " ", "NA", "true", "007", '"', "a,b", "x\ny", "\r", "x\r\ny", "2024-02-29"]),
    st.text(max_size=10),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=5), min_size=1, max_size=40),
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    block=st.sampled_from([64, 200, 1024]),
)
def test_block_size_never_changes_the_answer(rows: list[list[str]], eol: str, block: int) -> None:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=eol).writerows(rows)
    data = buf.getvalue().encode()
    try:
        whole = run(data, workers=1)
    except errors.ProfilingError:
        return
    # Blocks are cut where an even number of quotes precede a terminator (RFC 4180 quoting).
    # When the sniffer reads the file with another delimiter, quotes land mid-field and Arrow
    # keeps them as text, so block cuts may differ: documented, and out of this property.
    assume(whole["dialect"]["delimiter"] == ",")
    try:
        small = run(data, block_size=block, workers=2)
    except errors.FieldTooLarge:
        return  # a row longer than the tiny block: the documented outcome
    assert exact_view(small) == exact_view(whole)


def test_dates_mixed_with_other_text_in_one_batch() -> None:
    """The calendar check reads digits at fixed offsets: only of values shaped like dates."""
    cells = ["2024-02-29", "2023-02-29", "abcdefghijkl", "x,y;z 99:99", "9999-99-99", "2024-04-31T10:00",
             "2024-12-31 23:59:59Z", "1999-1x-01", "0000-00-00", "2024-06-30"]  # fmt: skip
    data = ("d\n" + "\n".join(f'"{c}"' for c in cells) + "\n").encode()
    col = run(data)["columns"][0]
    assert col["type_counts"]["date"] == 2  # 2024-02-29 and 2024-06-30 only
    assert col["type_counts"]["datetime"] == 1  # 2024-12-31 23:59:59Z (April has 30 days)
    assert col["type_counts"]["string"] == len(cells) - 3


def test_columns_switching_between_plain_and_dictionary_reading_change_nothing() -> None:
    # "flip" is unique for a stretch, then five values, then unique again: the parser reads it
    # plain, then dictionary-encoded, then plain, and the answer must not depend on that.
    lines = ["id,flip,cat"]
    for i in range(9_000):
        flip = f"v{i}" if i < 3_000 or i >= 6_000 else f"r{i % 5}"
        lines.append(f"{i},{flip},{'abc'[i % 3]}")
    data = ("\n".join(lines) + "\n").encode()
    one_block = run(data, block_size=1 << 20, workers=1)
    many_blocks = run(data, block_size=4 * 1024, workers=2)
    assert exact_view(many_blocks) == exact_view(one_block)
    flip = next(c for c in many_blocks["columns"] if c["name"] == "flip")
    assert flip["distinct"] == {"estimate": 6_005, "approximate": False, "relative_error": 0.0}
    assert {v["value"]: v["count"] for v in flip["top_values"][:5]} == {f"r{k}": 600 for k in range(5)}


@given(seed=st.integers(0, 2**32 - 1), end=st.integers(0, 3 * COUNT_BLOCK + 7))
@settings(max_examples=25, deadline=None)
def test_quote_counts_across_count_blocks_match_bytes_count(seed: int, end: int) -> None:
    data = bytearray(
        np.random.default_rng(seed).integers(30, 40, 3 * COUNT_BLOCK + 7, dtype=np.uint8).tobytes()
    )
    assert count_byte(data, ord('"'), end) == data.count(b'"', 0, end)
    assert count_byte(memoryview(data)[:end], ord('"')) == data.count(b'"', 0, end)
