"""`csvprof generate --shape`: every shape of csvprof.local.testdata profiles to a schema-valid profile
with the columns and the property the shape is for."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from csvprof import cli
from csvprof.cli import EXIT_OK, main
from csvprof.local.testdata import SHAPES, SPARSE_RATE, WIDE_COLUMNS, write_csv
from csvprof.profiler import ArrowProfileEngine
from tests.support.budget import budget
from tests.support.contracts import assert_valid

SIZE = 200_000


def _profile(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    result = ArrowProfileEngine().profile(io.BytesIO(data), size=len(data), budget=budget()).to_dict()
    assert_valid("profile", result)
    return result


@pytest.fixture(scope="module", params=sorted(SHAPES))
def shaped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, Path]:
    shape: str = request.param
    path = tmp_path_factory.mktemp(shape) / f"{shape}.csv"
    rows = write_csv(path, SIZE, seed=4, shape=shape)
    return shape, rows, path


def _columns(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in result["columns"]}


def _warned(result: dict[str, Any], column: str | None) -> set[str]:
    return {w["code"] for w in result["warnings"] if w["column"] == column}


def test_every_shape_profiles_with_its_columns_and_property(shaped: tuple[str, int, Path]) -> None:
    shape, rows, path = shaped
    assert abs(path.stat().st_size - SIZE) < SIZE * 0.1
    result = _profile(path)
    dataset, columns = result["dataset"], _columns(result)
    with path.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert dataset["columns"] == len(header) == len(columns)
    if shape != "dirty":
        assert dataset["rows"] == rows
        assert dataset["ragged_rows"] == 0
    if shape == "mixed":
        assert len(columns) == 11
    elif shape == "narrow":
        assert len(columns) == 5
        assert {c["inferred_type"] for c in columns.values()} == {"decimal"}
    elif shape == "wide":
        assert len(columns) == WIDE_COLUMNS >= 200
        assert {"integer", "decimal", "string", "boolean", "date"} <= {
            c["inferred_type"] for c in columns.values()
        }
    elif shape == "text":
        assert _warned(result, "uuid") & {"UNIQUE", "HIGH_CARDINALITY"}
        assert columns["uuid"]["length"] == {"min": 36, "mean": 36.0, "max": 36}
        # Quoted newlines were read as part of their cells: more lines than rows, every row counted.
        assert path.read_bytes().count(b"\n") > rows + 1
        assert columns["body"]["length"]["max"] > 60
    elif shape == "timestamps":
        temporal = [c for c in columns.values() if c["inferred_type"] == "datetime"]
        assert len(temporal) >= 4
        assert all(sum(c["type_counts"].values()) == c["type_counts"]["datetime"] for c in temporal)
        assert columns["event_date"]["inferred_type"] == "date"
    elif shape == "sparse":
        for name, c in columns.items():
            share = (c["null_count"] + c["empty_count"]) / dataset["rows"]
            assert share == 0 if name == "id" else abs(share - SPARSE_RATE) < 0.05, (name, share)
    elif shape == "dirty":
        assert dataset["ragged_rows"] > 0
        assert "RAGGED_ROWS" in _warned(result, None)
        assert dataset["rows"] + dataset["ragged_rows"] == rows
        assert "WHITESPACE_PADDING" in _warned(result, "code")
        assert "MIXED_TYPES" in _warned(result, "quantity")
        assert columns["amount"]["type_counts"]["string"] > 0  # the unparseable numbers
    else:
        pytest.fail(f"no check for shape {shape}")


def test_shapes_are_seeded(tmp_path: Path) -> None:
    for shape in SHAPES:
        digests = set()
        for name in ("a", "b"):
            write_csv(tmp_path / name, 50_000, seed=9, shape=shape)
            digests.add(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
        write_csv(tmp_path / "c", 50_000, seed=10, shape=shape)
        assert len(digests) == 1
        assert hashlib.sha256((tmp_path / "c").read_bytes()).hexdigest() not in digests


def test_cli_shape_choices_are_the_generators(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert set(cli.SHAPES) == set(SHAPES)
    out = tmp_path / "text.csv"
    assert main(["generate", str(out), "--size", "100KB", "--shape", "text", "--seed", "3"]) == EXIT_OK
    expected = tmp_path / "expected.csv"
    write_csv(expected, 100_000, seed=3, shape="text")
    assert out.read_bytes() == expected.read_bytes()
    assert "wrote" in capsys.readouterr().out


def test_cli_default_shape_is_mixed(tmp_path: Path) -> None:
    out, expected = tmp_path / "out.csv", tmp_path / "expected.csv"
    assert main(["generate", str(out), "--size", "100KB", "--seed", "2"]) == EXIT_OK
    write_csv(expected, 100_000, seed=2)
    assert out.read_bytes() == expected.read_bytes()
