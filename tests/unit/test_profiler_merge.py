"""Mergeability: profile(A) ⊕ profile(B) == profile(A + B), for files split at row boundaries."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csvprof.errors import ProfilingError
from csvprof.limits import ProfileLimits
from csvprof.local.testdata import COLUMNS, write_csv
from csvprof.profiler import ArrowProfileEngine
from csvprof.profiler.columns import QUANTILES
from csvprof.profiler.types import DECIMAL_RE, INTEGER_RE
from tests.support.budget import budget
from tests.support.ranges import profile_ranges

BUDGET = budget(ProfileLimits(max_columns=20, max_field_bytes=2_000))
FLOAT_FIELDS = ("mean", "stddev", "sum")
STRINGS = dict.fromkeys(COLUMNS, pa.string())

cells = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.dates().map(str),
    st.sampled_from(["", " ", "NA", "null", "true", "No", "007", " pad", "a,b", "x\ny", 'q"q', "é"]),
    st.text(alphabet="abcxyz ", max_size=6),
)


def _rows(width: int) -> st.SearchStrategy[list[list[str]]]:
    return st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=30)


def _csv(rows: list[list[str]], eol: str) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=eol).writerows(rows)
    return buf.getvalue().encode()


def _comparable(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile without what legitimately differs: runtime and float rounding."""
    out = {k: v for k, v in profile.items() if k != "runtime"}
    out["columns"] = [{k: v for k, v in c.items() if k not in FLOAT_FIELDS} for c in profile["columns"]]
    return out


def _assert_floats_close(a: dict[str, Any], b: dict[str, Any]) -> None:
    for ca, cb in zip(a["columns"], b["columns"], strict=True):
        for key in FLOAT_FIELDS:
            x, y = ca[key], cb[key]
            assert (x is None) == (y is None), key
            if x is not None:
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (key, x, y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 4),
    data=st.data(),
    eol=st.sampled_from(["\n", "\r\n"]),
)
def test_split_at_any_row_boundary_merges_to_the_single_pass_profile(
    width: int, data: st.DataObject, eol: str
) -> None:
    # Given a CSV with a header and a random row boundary to cut at
    header = [f"c{i}" for i in range(width)]
    rows = data.draw(_rows(width))
    k = data.draw(st.integers(0, len(rows)))
    whole = _csv([header, *rows], eol)
    cut = len(_csv([header, *rows[:k]], eol))
    engine = ArrowProfileEngine(workers=1)
    # When both the whole file and its two ranges are profiled
    try:
        single = engine.profile(io.BytesIO(whole), size=len(whole), budget=BUDGET).to_dict()
    except ProfilingError as exc:
        with pytest.raises(type(exc)):
            profile_ranges(whole, [cut], budget=BUDGET)
        return
    merged = profile_ranges(whole, [cut], budget=BUDGET).to_dict()
    # Then every exact field is equal (these small files keep every sketch exact)
    assert _comparable(merged) == _comparable(single)
    _assert_floats_close(merged, single)


def test_generated_file_in_three_ranges_matches_within_stated_bounds(tmp_path: Path) -> None:
    """Big enough that HyperLogLog, Misra-Gries and KLL leave exact mode; split at row boundaries."""
    path = tmp_path / "gen.csv"
    write_csv(path, 6_000_000, seed=11)
    data = path.read_bytes()
    cuts = [_row_boundary(data, len(data) // 3), _row_boundary(data, 2 * len(data) // 3)]
    engine = ArrowProfileEngine(workers=2)
    single = engine.profile(io.BytesIO(data), size=len(data), budget=BUDGET).to_dict()
    # Small blocks: several chunks per range, each range folded into its own partial.
    merged = profile_ranges(data, cuts, budget=BUDGET, block_size=256 * 1024).to_dict()
    truth = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=False, column_types=STRINGS),
    )
    assert merged["dataset"]["rows"] == single["dataset"]["rows"] == truth.num_rows
    for a, b in zip(single["columns"], merged["columns"], strict=True):
        for key in ("type_counts", "null_count", "empty_count", "min", "max", "length", "inferred_type"):
            assert a[key] == b[key], (a["name"], key)
        da, db = a["distinct"], b["distinct"]
        assert da["approximate"] == db["approximate"]
        if da["approximate"]:
            # Both are estimates of the same number: each within 4 standard errors of it.
            assert abs(da["estimate"] - db["estimate"]) <= 8 * da["relative_error"] * da["estimate"]
        else:
            assert da == db
        if b["quantiles"] is not None:
            _assert_quantile_ranks(b, truth.column(b["name"]).combine_chunks())
        _assert_top_values_within_bound(b, truth.column(b["name"]).combine_chunks())
        _assert_floats_close({"columns": [a]}, {"columns": [b]})


def _assert_quantile_ranks(col: dict[str, Any], cells: Any) -> None:
    """Each reported quantile's true rank is within rank_error of the requested rank."""
    numeric = pc.or_(pc.match_substring_regex(cells, INTEGER_RE), pc.match_substring_regex(cells, DECIMAL_RE))
    numbers = pc.cast(cells.filter(numeric), pa.float64())
    ordered = np.sort(numbers.to_numpy())
    eps = col["quantiles"]["rank_error"]
    for key, q in QUANTILES.items():
        value = col["quantiles"][key]
        lo = np.searchsorted(ordered, value, side="left") / len(ordered)
        hi = np.searchsorted(ordered, value, side="right") / len(ordered)
        assert lo - eps <= q <= hi + eps, (col["name"], key, lo, hi)


def _assert_top_values_within_bound(col: dict[str, Any], cells: Any) -> None:
    """Reported counts are lower bounds short by at most top_values_max_error."""
    counts = pc.value_counts(cells)
    truth = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
    for top in col["top_values"]:
        true = truth[top["value"]]
        assert true - col["top_values_max_error"] <= top["count"] <= true, (col["name"], top)


def _row_boundary(data: bytes, near: int) -> int:
    """The first offset at or after `near` that starts a row (outside quotes)."""
    quotes = data.count(b'"', 0, near)
    pos = near
    while True:
        nl = data.index(b"\n", pos)
        quotes += data.count(b'"', pos, nl)
        if quotes % 2 == 0:
            return nl + 1
        pos = nl + 1
