"""Generated CSVs: a well-formed one always gives a schema-valid profile; arbitrary bytes give
a schema-valid profile or a csvprof ProfilingError."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csvprof.errors import EmptyFile, ProfilingError
from csvprof.limits import ProfileLimits
from csvprof.local.testdata import write_csv
from csvprof.profiler import ArrowProfileEngine
from tests.support.budget import budget
from tests.support.contracts import assert_valid

# More columns than a generated file has characters (at most 25 rows of 6 quoted 12-character
# cells): whatever delimiter is sniffed, TOO_MANY_COLUMNS cannot happen.
BUDGET = budget(ProfileLimits(max_columns=5_000, max_field_bytes=2_000))

cells = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.dates().map(str),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["", " ", "NA", "null", "\\N", "true", "No", "007", '"', "a,b", "x\ny", "\r"]),
    # No NUL: a NUL byte in the head is ENCODING_ERROR by design (test_profiler_engine covers it).
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
)
# At least one row: no rows at all is an empty file.
tables = st.lists(st.lists(cells, min_size=1, max_size=6), min_size=1, max_size=25)


def _profile(data: bytes) -> dict[str, Any]:
    """The profile of `data`, checked against the schema and the counts' invariant."""
    result = ArrowProfileEngine().profile(io.BytesIO(data), size=len(data), budget=BUDGET).to_dict()
    assert_valid("profile", result)
    assert result["dataset"]["rows"] >= 0
    for col in result["columns"]:
        assert (
            sum(col["type_counts"].values()) + col["null_count"] + col["empty_count"]
            == result["dataset"]["rows"]
        )
    return result


def _check(data: bytes) -> None:
    try:
        _profile(data)
    except ProfilingError:
        return


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=tables, delimiter=st.sampled_from([",", ";", "\t", "|"]), eol=st.sampled_from(["\n", "\r\n", "\r"])
)
def test_well_formed_csv_gives_valid_profile(rows: list[list[str]], delimiter: str, eol: str) -> None:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter, lineterminator=eol).writerows(rows)
    data = buf.getvalue().encode()
    if not data.strip():  # one whitespace cell a row: EMPTY_FILE, as docs/data-contracts.md says
        with pytest.raises(EmptyFile):
            _profile(data)
        return
    _profile(data)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_give_valid_profile_or_csvprof_error(data: bytes) -> None:
    _check(data)


def test_generated_dataset_row_count_matches_python_csv(tmp_path: Path) -> None:
    path = tmp_path / "gen.csv"
    rows = write_csv(path, 300_000, seed=3)
    with path.open(newline="", encoding="utf-8") as f:
        parsed = list(csv.reader(f))
    assert len(parsed) - 1 == rows
    with path.open("rb") as f:
        result = ArrowProfileEngine().profile(f, size=path.stat().st_size, budget=BUDGET).to_dict()
    assert_valid("profile", result)
    assert result["dataset"]["rows"] == rows
    types = {c["name"]: c["inferred_type"] for c in result["columns"]}
    assert types["id"] == "integer"
    assert types["amount"] == "decimal"
    assert types["order_date"] == "date"
    assert types["updated_at"] == "datetime"
    assert types["active"] == "boolean"
    assert types["uuid"] == "string"
    comment = next(c for c in result["columns"] if c["name"] == "comment")
    assert comment["null_count"] == sum(r[-1] == "NA" for r in parsed[1:])
