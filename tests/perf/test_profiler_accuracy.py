"""Accuracy against an independent exact computation: DuckDB aggregates on the same generated file.

Exact fields must be equal; approximate ones within the bounds the profile states (HyperLogLog
standard error, KLL rank error, Misra-Gries max error, duplicate-row absolute error).

SQL text is built only from constants (testdata.COLUMNS, the patterns in profiler.types), hence
the S608 waivers; cell values always travel as parameters.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import duckdb
import pytest

from csvprof.local.testdata import COLUMNS, write_csv
from csvprof.profiler import ArrowProfileEngine
from csvprof.profiler.columns import QUANTILES
from csvprof.profiler.types import BOOLEAN_WORDS, DATE_RE, DATETIME_RE, DECIMAL_RE, INTEGER_RE, NULL_MARKERS
from tests.support.budget import budget

pytestmark = pytest.mark.perf
BUDGET = budget()


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("accuracy") / "mixed-20mb.csv"
    write_csv(path, 20_000_000, seed=7, null_rate=0.1)
    data = path.read_bytes()
    profile = ArrowProfileEngine().profile(io.BytesIO(data), size=len(data), budget=BUDGET).to_dict()
    return path, profile


@pytest.fixture(scope="module")
def con(sample: tuple[Path, dict[str, Any]]) -> Any:
    path, _ = sample
    db = duckdb.connect()
    types = ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS)
    db.execute(
        "CREATE TABLE raw AS SELECT * FROM read_csv(?, header=true, delim=',', quote='\"', escape='\"', "  # noqa: S608
        f"nullstr='\\x01never', columns={{{types}}})",
        [str(path)],
    )
    cells = ", ".join(f"coalesce({c}, '') AS {c}" for c in COLUMNS)
    db.execute(f"CREATE TABLE t AS SELECT {cells} FROM raw")  # noqa: S608
    yield db
    db.close()


def _classified(col: str) -> str:
    """One row per cell of `col`: the cell and its csvprof type, computed with DuckDB only."""
    v = col
    return f"""
        SELECT {v} AS v,
          CASE
            WHEN {v} IN ({_sql_list(NULL_MARKERS)}) THEN 'null'
            WHEN regexp_full_match({v}, '\\s*') THEN 'empty'
            WHEN regexp_matches({v}, '{INTEGER_RE}') THEN 'integer'
            WHEN regexp_matches({v}, '{DECIMAL_RE}') AND isfinite(TRY_CAST({v} AS DOUBLE)) THEN 'decimal'
            WHEN {v} IN ({_sql_list(BOOLEAN_WORDS)}) THEN 'boolean'
            WHEN regexp_matches({v}, '{DATE_RE}') AND TRY_CAST({v} AS DATE) IS NOT NULL THEN 'date'
            WHEN regexp_matches({v}, '{DATETIME_RE}') AND TRY_CAST(substr({v}, 1, 10) AS DATE) IS NOT NULL
              THEN 'datetime'
            ELSE 'string'
          END AS kind
        FROM t"""  # noqa: S608


@pytest.mark.parametrize("name", COLUMNS)
def test_column_matches_exact_duckdb_aggregates(
    con: Any, sample: tuple[Path, dict[str, Any]], name: str
) -> None:
    _, profile = sample
    col = next(c for c in profile["columns"] if c["name"] == name)
    con.execute(f"CREATE OR REPLACE TEMP VIEW k AS {_classified(name)}")
    kinds = dict(con.execute("SELECT kind, count(*) FROM k GROUP BY kind").fetchall())
    assert col["null_count"] == kinds.get("null", 0)
    assert col["empty_count"] == kinds.get("empty", 0)
    assert col["type_counts"] == {k: kinds.get(k, 0) for k in col["type_counts"]}

    present = "kind NOT IN ('null', 'empty')"
    space = "[\\t\\n\\x0b\\f\\r ]"
    distinct, lmin, lmean, lmax, lead, pad = con.execute(
        "SELECT count(DISTINCT v), min(length(v)), avg(length(v)), max(length(v)), "  # noqa: S608
        "count(*) FILTER (regexp_full_match(v, '0[0-9]+')), "
        f"count(*) FILTER (regexp_matches(v, '^{space}|{space}$')) FROM k WHERE {present}"
    ).fetchone()
    assert col["length"]["min"] == lmin
    assert col["length"]["max"] == lmax
    assert col["length"]["mean"] == pytest.approx(lmean, rel=1e-12)
    assert col["leading_zeros"] == lead
    assert col["whitespace_padded"] == pad
    d = col["distinct"]
    if d["approximate"]:
        assert abs(d["estimate"] - distinct) <= 4 * d["relative_error"] * distinct
    else:
        assert d["estimate"] == distinct

    top = con.execute(
        f"SELECT v, count(*) AS n FROM k WHERE {present} GROUP BY v ORDER BY n DESC, v LIMIT 50"  # noqa: S608
    ).fetchall()
    truth = dict(top)
    if not col["top_values_approximate"]:
        assert [(t["value"], t["count"]) for t in col["top_values"]] == top[:10]
    for t in col["top_values"]:
        true = (
            truth.get(t["value"])
            or con.execute("SELECT count(*) FROM k WHERE v = ?", [t["value"]]).fetchone()[0]
        )
        assert true - col["top_values_max_error"] <= t["count"] <= true

    if col["inferred_type"] in ("integer", "decimal"):
        _check_numbers(con, col)


def _check_numbers(con: Any, col: dict[str, Any]) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP VIEW x AS "
        "SELECT CAST(v AS DOUBLE) AS x FROM k WHERE kind IN ('integer', 'decimal')"
    )
    n, lo, hi, mean, std, total, zeros, negatives = con.execute(
        "SELECT count(*), min(x), max(x), avg(x), stddev_samp(x), sum(x), count(*) FILTER (x = 0), "
        "count(*) FILTER (x < 0) FROM x"
    ).fetchone()
    assert (col["min"], col["max"]) == (lo, hi)
    assert col["mean"] == pytest.approx(mean, rel=1e-9)
    assert col["stddev"] == pytest.approx(std, rel=1e-9)
    assert col["sum"] == pytest.approx(total, rel=1e-9)
    assert (col["zeros"], col["negatives"]) == (zeros, negatives)
    eps = col["quantiles"]["rank_error"]
    for key, q in QUANTILES.items():
        below, at_most = con.execute(
            "SELECT count(*) FILTER (x < ?), count(*) FILTER (x <= ?) FROM x", [col["quantiles"][key]] * 2
        ).fetchone()
        assert below / n - eps <= q <= at_most / n + eps, key
    hist = col["histogram"]
    assert sum(b["count"] for b in hist["bins"]) == n
    for i, b in enumerate(hist["bins"]):
        lower_op = ">=" if i == 0 else ">"
        exact = con.execute(
            f"SELECT count(*) FROM x WHERE x {lower_op} ? AND x <= ?",  # noqa: S608
            [b["lower"], b["upper"]],
        ).fetchone()[0]
        # Two edges, each placed within rank_error * n by the sketch.
        assert abs(b["count"] - exact) <= 2 * hist["rank_error"] * n + 1, (i, b, exact)


def test_rows_and_duplicate_rows_match_duckdb(con: Any, sample: tuple[Path, dict[str, Any]]) -> None:
    _, profile = sample
    rows, distinct = con.execute(
        "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM (SELECT DISTINCT * FROM t))"
    ).fetchone()
    assert profile["dataset"]["rows"] == rows
    dup = profile["dataset"]["duplicate_rows"]
    assert abs(dup["estimate"] - (rows - distinct)) <= dup["absolute_error"]
