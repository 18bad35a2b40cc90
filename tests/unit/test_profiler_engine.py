"""ArrowProfileEngine behaviour, checked against answers computed independently with csv/statistics."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from csvprof import errors
from csvprof.limits import ProfileLimits
from csvprof.profiler import ArrowProfileEngine
from csvprof.profiler.types import NULL_MARKERS
from tests.support.budget import budget
from tests.support.contracts import assert_valid


class Stream(io.RawIOBase):
    """Non-seekable source that hands out at most `chunk` bytes per read, like a network body."""

    def __init__(self, data: bytes, chunk: int = 7) -> None:
        self._buf = io.BytesIO(data)
        self._chunk = chunk

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._buf.read(min(len(b), self._chunk))
        b[: len(data)] = data
        return len(data)


def profile(
    data: bytes, limits: ProfileLimits | None = None, *, stream: bool = False, **kw: Any
) -> dict[str, Any]:
    source: Any = io.BufferedReader(Stream(data)) if stream else io.BytesIO(data)
    result = (
        ArrowProfileEngine()
        .profile(source, size=None if stream else len(data), budget=budget(limits, **kw))
        .to_dict()
    )
    assert_valid("profile", result)
    return result


MIXED = (
    "id,name,score,when,flag,zip,note\n"
    '1,"Smith, J",3.5,2024-01-02,true,02134,"said ""hi"""\n'
    "2,Ann,,2024-02-30,false,10001,plain\n"
    '3,"multi\nline",NA,2024-03-04,yes,00501,\n'
    "4,Bob,-1e2,2023-12-31,no,94105,NULL\n"
    "5,Ann,7,2024-02-29,TRUE,10001,x\n"
)


def test_given_mixed_csv_when_profiled_then_stats_match_python_csv() -> None:
    result = profile(MIXED.encode())
    rows = list(csv.reader(io.StringIO(MIXED, newline="")))
    header, body = rows[0], rows[1:]
    assert result["dataset"] == {
        "rows": len(body),
        "columns": len(header),
        "bytes": len(MIXED),
        "ragged_rows": 0,
        "duplicate_rows": {"estimate": 0, "approximate": False, "absolute_error": 0},
    }
    assert [c["name"] for c in result["columns"]] == header
    for j, col in enumerate(result["columns"]):
        cells = [r[j] for r in body]
        assert col["null_count"] == sum(c in NULL_MARKERS for c in cells)
        assert col["empty_count"] == sum(not c.strip() for c in cells)
        present = [c for c in cells if c.strip() and c not in NULL_MARKERS]
        assert sum(col["type_counts"].values()) == len(present)
        assert col["distinct"] == {"estimate": len(set(present)), "approximate": False, "relative_error": 0.0}
        expected_top = sorted(Counter(present).items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        assert [(t["value"], t["count"]) for t in col["top_values"]] == expected_top
    by_name = {c["name"]: c for c in result["columns"]}
    ids = [int(r[0]) for r in body]
    assert by_name["id"]["inferred_type"] == "integer"
    assert (by_name["id"]["min"], by_name["id"]["max"]) == (min(ids), max(ids))
    assert by_name["id"]["mean"] == pytest.approx(statistics.mean(ids))
    assert by_name["id"]["stddev"] == pytest.approx(statistics.stdev(ids))
    scores = [3.5, -100.0, 7.0]
    assert by_name["score"]["inferred_type"] == "decimal"
    assert (by_name["score"]["min"], by_name["score"]["max"]) == (min(scores), max(scores))
    assert by_name["score"]["stddev"] == pytest.approx(statistics.stdev(scores))
    # 2024-02-30 is not a date; 2024-02-29 is (leap year).
    assert by_name["when"]["type_counts"]["date"] == 4
    assert by_name["when"]["type_counts"]["string"] == 1
    assert (by_name["when"]["min"], by_name["when"]["max"]) == ("2023-12-31", "2024-03-04")
    assert by_name["flag"]["inferred_type"] == "boolean"
    assert by_name["zip"]["type_counts"] == {
        **dict.fromkeys(by_name["zip"]["type_counts"], 0),
        "integer": 3,
        "string": 2,
    }
    assert by_name["name"]["min"] == min(c for c in (r[1] for r in body))
    assert by_name["note"]["mean"] is None
    assert result["dialect"] == {
        "encoding": "utf-8", "delimiter": ",", "quote_char": '"', "header": True, "line_terminator": "\n",
        "skipped_lines": 0,
    }  # fmt: skip


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_terminators_and_quoted_newlines(eol: str) -> None:
    text = eol.join(["a,b", '1,"x' + eol + 'y"', "2,z", ""])
    result = profile(text.encode(), stream=True)
    assert result["dialect"]["line_terminator"] == eol
    assert result["dataset"]["rows"] == 2
    assert result["columns"][1]["min"] == "x" + eol + "y"


@pytest.mark.parametrize(
    ("delimiter", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")]
)
def test_delimiter_is_sniffed(delimiter: str, name: str) -> None:
    text = (
        "\n".join(delimiter.join(row) for row in [["a", "b", "c"], ["1", "x, y", "3"], ["4", "5", "6"]])
        + "\n"
    )
    if delimiter == ",":
        text = 'a,b,c\n1,"x, y",3\n4,5,6\n'
    result = profile(text.encode())
    assert result["dialect"]["delimiter"] == delimiter, name
    assert result["dataset"]["columns"] == 3


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", ""], ids=["lf", "crlf", "cr", "no-newline"])
@pytest.mark.parametrize("stream", [False, True], ids=["sized", "stream"])
def test_header_only_file_is_ready_with_zero_rows(ending: str, stream: bool) -> None:
    result = profile(f"a,b,c{ending}".encode(), stream=stream)
    assert result["dataset"]["rows"] == 0
    assert result["dialect"]["header"] is True
    assert [c["inferred_type"] for c in result["columns"]] == ["empty"] * 3
    assert [c["name"] for c in result["columns"]] == ["a", "b", "c"]
    assert result["warnings"] == []


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_last_row_without_a_newline_counts_like_one_with_it(ending: str) -> None:
    lines = ["id,name", "1,x", "2,y", '3,"z' + ending + 'w"']
    terminated = profile((ending.join(lines) + ending).encode())
    unterminated = profile(ending.join(lines).encode(), stream=True)
    assert unterminated["dataset"] == {
        **terminated["dataset"],
        "bytes": terminated["dataset"]["bytes"] - len(ending),
    }
    assert unterminated["columns"] == terminated["columns"]
    assert terminated["dataset"]["rows"] == 3


def test_headerless_numeric_file_keeps_first_row_as_data() -> None:
    result = profile(b"1,2\n3,4\n5,6\n")
    assert result["dialect"]["header"] is False
    assert result["dataset"]["rows"] == 3
    assert [c["name"] for c in result["columns"]] == ["column_1", "column_2"]
    assert [c["original_name"] for c in result["columns"]] == [None, None]


def test_duplicate_and_blank_names_are_renamed_and_originals_kept() -> None:
    result = profile(b"a,a,,a_2, \n1,2,3,4,5\n")
    assert [c["name"] for c in result["columns"]] == ["a", "a_2", "column_3", "a_2_2", "column_5"]
    assert [c["original_name"] for c in result["columns"]] == ["a", "a", "", "a_2", " "]


def test_ragged_rows_are_counted_and_skipped() -> None:
    result = profile(b"a,b\n1,2\n3\n4,5,6\n7,8\n")
    assert result["dataset"]["rows"] == 2
    assert result["dataset"]["ragged_rows"] == 2


def test_utf8_bom_and_cp1252_fallback() -> None:
    assert profile(b"\xef\xbb\xbfa,b\n1,2\n")["dialect"]["encoding"] == "utf-8-sig"
    assert profile(b"\xef\xbb\xbfa,b\n1,2\n")["columns"][0]["name"] == "a"
    result = profile("name,city\nJosé,Zürich\n".encode("cp1252"))
    assert result["dialect"]["encoding"] == "cp1252"
    assert result["columns"][1]["top_values"] == [{"value": "Zürich", "count": 1}]


def test_nul_bytes_are_rejected_as_binary() -> None:
    with pytest.raises(errors.EncodingError):
        profile(b"a,b\n1,\x002\n")


def test_invalid_utf8_after_the_sniffed_head_is_an_encoding_error() -> None:
    data = b"a,b\n" + b"1,2\n" * 20_000 + b"3,\xff\xfe\n"
    with pytest.raises(errors.EncodingError):
        profile(data)


@pytest.mark.parametrize(
    ("codec", "bom", "name"), [("utf-16-le", "\ufeff", "utf-16-le"), ("utf-16-be", "\ufeff", "utf-16-be")]
)
def test_utf16_with_bom_is_transcoded(codec: str, bom: str, name: str) -> None:
    data = (bom + 'name,city\r\nJosé,Zürich\r\n"a,b",x\r\n').encode(codec)
    result = profile(data, stream=True)
    assert result["dialect"]["encoding"] == name
    assert result["dialect"]["line_terminator"] == "\r\n"
    assert result["dataset"]["bytes"] == len(data)
    assert result["columns"][0]["top_values"] == [{"value": "José", "count": 1}, {"value": "a,b", "count": 1}]


def test_utf32_bom_is_an_encoding_error() -> None:
    with pytest.raises(errors.EncodingError):
        profile("a,b\n1,2\n".encode("utf-32"))


def test_invalid_utf16_is_an_encoding_error() -> None:
    with pytest.raises(errors.EncodingError):
        profile("a,b\n1,2\n".encode("utf-16") + b"\x00\xd8\x41\x00")


@pytest.mark.parametrize("data", [b"", b"   \n\r\n\t  "])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(errors.EmptyFile):
        ArrowProfileEngine().profile(io.BytesIO(data), size=len(data), budget=budget())
    with pytest.raises(errors.EmptyFile):
        ArrowProfileEngine().profile(io.BufferedReader(Stream(data)), size=None, budget=budget())


def test_unterminated_quote_is_a_parse_error() -> None:
    with pytest.raises(errors.CsvParseError):
        profile(b'a,b\n1,"open\n2,3\n')


def test_too_many_columns() -> None:
    with pytest.raises(errors.TooManyColumns):
        profile(b"a,b,c,d\n1,2,3,4\n", ProfileLimits(max_columns=3))


def test_field_too_large() -> None:
    with pytest.raises(errors.FieldTooLarge):
        profile(b"a,b\n1," + b"x" * 200 + b"\n", ProfileLimits(max_field_bytes=100))


def test_row_larger_than_the_parser_block_is_field_too_large() -> None:
    data = b"a,b\n1," + b"x" * 5000 + b"\n"
    with pytest.raises(errors.FieldTooLarge):
        ArrowProfileEngine(block_size=1024).profile(io.BytesIO(data), size=len(data), budget=budget())


def test_file_too_large_known_size_is_rejected_before_reading() -> None:
    source = io.BytesIO(b"a\n1\n")
    with pytest.raises(errors.FileTooLarge):
        ArrowProfileEngine().profile(source, size=10**12, budget=budget())
    assert source.tell() == 0


def test_file_too_large_unknown_size_is_caught_while_reading() -> None:
    with pytest.raises(errors.FileTooLarge):
        profile(b"a,b\n" + b"1,2\n" * 100_000, ProfileLimits(max_source_bytes=200_000), stream=True)


def test_time_limit() -> None:
    with pytest.raises(errors.TimeLimitExceeded):
        profile(b"a\n1\n", remaining_s=lambda: 10.0)


def test_memory_limit() -> None:
    with pytest.raises(errors.MemoryLimitExceeded):
        profile(b"a\n1\n", rss_mb=lambda workers: 5000.0)


def test_progress_and_runtime_are_reported() -> None:
    seen: list[int] = []
    ticks = iter([10.0, 10.25])
    data = b"a,b\n" + b"1,2\n" * 1000
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    result = profile(
        data, progress=seen.append, clock=lambda: next(ticks), rss_mb=lambda workers: 123.4, now=lambda: now
    )
    assert seen
    assert seen[-1] == len(data)
    assert result["runtime"] == {
        "duration_ms": 250,
        "bytes_read": len(data),
        "rows": 1000,
        "peak_rss_mb": 123.4,
    }
    assert result["generated_at"] == "2025-01-02T03:04:05.000Z"
    assert result["dataset_id"] is None


def test_many_blocks_match_a_single_pass() -> None:
    """Across block boundaries, counts stay exact and stats agree with statistics.*."""
    values = [str((i * 7919) % 1000 - 500) for i in range(30_000)]
    data = ("n\n" + "\n".join(values) + "\n").encode()
    result = (
        ArrowProfileEngine(block_size=16 * 1024)
        .profile(io.BytesIO(data), size=len(data), budget=budget())
        .to_dict()
    )
    col = result["columns"][0]
    nums = [int(v) for v in values]
    assert col["distinct"]["estimate"] == len(set(nums))
    assert col["mean"] == pytest.approx(statistics.mean(nums))
    assert col["stddev"] == pytest.approx(statistics.stdev(nums))
    assert (col["min"], col["max"]) == (min(nums), max(nums))
    assert col["quantiles"]["p50"] == pytest.approx(statistics.median(nums), abs=0.02 * 1000)


def test_first_chunk_split_after_its_head_rows_matches_small_blocks() -> None:
    # The first chunk's first 64 KiB of whole rows are parsed apart (for the column names);
    # a quoted field full of newlines spans that cut, and every row must still count once.
    body = MIXED.split("\n", 1)[1]
    spanning = '6,"' + "line\n" * 4_000 + '",1.5,2024-01-01,no,12345,z\n'
    data = ("id,name,score,when,flag,zip,note\n" + body * 300 + spanning + body * 300).encode()
    assert data.index(b"line\n") < 64 * 1024 < data.rindex(b"line\n")
    split = ArrowProfileEngine().profile(io.BytesIO(data), size=len(data), budget=budget()).to_dict()
    small = (
        ArrowProfileEngine(block_size=32 * 1024)
        .profile(io.BytesIO(data), size=len(data), budget=budget())
        .to_dict()
    )
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))[1:]
    assert split["dataset"]["rows"] == small["dataset"]["rows"] == len(rows)
    rounded = {"mean", "stddev", "sum"}  # float sums in another order
    sketched = {"quantiles", "histogram"}  # KLL's compactions depend on the order of updates
    for a, b in zip(split["columns"], small["columns"], strict=True):
        assert {k: v for k, v in a.items() if k not in rounded | sketched} == {
            k: v for k, v in b.items() if k not in rounded | sketched
        }
        assert [a[k] for k in sorted(rounded)] == pytest.approx([b[k] for k in sorted(rounded)])
