"""The perf layer's bookkeeping: saved runs read back, compared, and merged into the doc's data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.perf.compare import compare, main
from tests.perf.matrix import parse_size, result_key
from tests.perf.report import merge
from tests.perf.runs import load_run, saved_runs


def _matrix(shape: str, size: str, ratio: float, mbps: float = 100.0) -> dict[str, Any]:
    return {"kind": "matrix", "shape": shape, "size": size, "ratio": ratio, "csvprof": {"mb_per_s": mbps}}


def _save(folder: Path, number: int, when: str, entries: list[dict[str, Any]]) -> Path:
    """A run as pytest-benchmark saves it: machine and commit info, one benchmark per measurement."""
    path = folder / "Linux-CPython-3.11-64bit" / f"{number:04d}_abc_{when[:10]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    run = {
        "machine_info": {"csvprof": {"cpu_model": "test cpu", "cores_available": 2}},
        "commit_info": {"id": "0123456789abcdef", "dirty": True},
        "datetime": when,
        "benchmarks": [{"name": "x", "extra_info": e} for e in entries] + [{"name": "y", "extra_info": {}}],
    }
    path.write_text(json.dumps(run))
    return path


def test_a_saved_run_reads_back_by_kind_shape_and_size_with_when_where_and_what(tmp_path: Path) -> None:
    path = _save(tmp_path, 1, "2026-12-03T15:02:58+00:00", [_matrix("wide", "100MB", 0.4)])

    results = load_run(path)

    assert list(results) == [result_key("matrix", "wide", "100MB")]
    entry = results["matrix/wide/100MB"]
    assert entry["ratio"] == 0.4
    assert entry["measured_at"] == "2026-12-03 15:02 UTC"
    assert entry["commit"] == "0123456789+dirty"
    assert entry["machine"]["cpu_model"] == "test cpu"


def test_saved_runs_are_ordered_by_when_they_were_saved(tmp_path: Path) -> None:
    later = _save(tmp_path, 1, "2026-12-04T00:00:00+00:00", [])
    earlier = _save(tmp_path, 2, "2026-12-03T00:00:00+00:00", [])
    assert saved_runs(tmp_path) == [earlier, later]


def test_a_ratio_that_fell_beyond_the_tolerance_is_a_regression_and_within_it_is_not() -> None:
    old = {
        "matrix/mixed/100MB": _matrix("mixed", "100MB", 1.0),
        "matrix/wide/100MB": _matrix("wide", "100MB", 0.5),
    }
    new = {
        "matrix/mixed/100MB": _matrix("mixed", "100MB", 0.9),
        "matrix/wide/100MB": _matrix("wide", "100MB", 0.4),
        "matrix/text/100MB": _matrix("text", "100MB", 0.1),  # not in the old run: nothing to compare
    }

    changes = {c.key: c for c in compare(old, new, tolerance=0.15)}

    assert set(changes) == {"matrix/mixed/100MB", "matrix/wide/100MB"}
    assert not changes["matrix/mixed/100MB"].regressed
    assert changes["matrix/wide/100MB"].regressed
    assert "REGRESSION" in changes["matrix/wide/100MB"].line()


def test_the_compare_command_exits_1_on_a_regression_and_0_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _save(tmp_path, 1, "2026-12-03T00:00:00+00:00", [_matrix("mixed", "100MB", 1.0)])
    same = _save(tmp_path, 2, "2026-12-04T00:00:00+00:00", [_matrix("mixed", "100MB", 0.95)])
    worse = _save(tmp_path, 3, "2026-12-05T00:00:00+00:00", [_matrix("mixed", "100MB", 0.5)])

    assert main([str(old), str(same)]) == 0
    assert main([str(old), str(worse)]) == 1
    assert "mixed/100MB" in capsys.readouterr().out


def test_merging_a_run_replaces_older_measurements_and_keeps_the_sizes_it_did_not_measure() -> None:
    doc = {
        "results": {
            "matrix/mixed/100MB": {**_matrix("mixed", "100MB", 0.9), "measured_at": "2026-11-26 02:08 UTC"},
            "matrix/mixed/1GB": {**_matrix("mixed", "1GB", 1.0), "measured_at": "2026-11-26 02:08 UTC"},
        }
    }
    newer = {"matrix/mixed/100MB": {**_matrix("mixed", "100MB", 0.7), "measured_at": "2026-12-03 15:02 UTC"}}
    older = {"matrix/mixed/1GB": {**_matrix("mixed", "1GB", 0.2), "measured_at": "2026-11-01 00:00 UTC"}}

    merged = merge(doc, [newer, older])["results"]

    assert merged["matrix/mixed/100MB"]["ratio"] == 0.7
    assert merged["matrix/mixed/1GB"]["ratio"] == 1.0


@pytest.mark.parametrize(
    ("text", "size"), [("100MB", 10**8), ("1GB", 10**9), ("5GiB", 5 * 2**30), ("10mb", 10**7), ("123", 123)]
)
def test_sizes_are_read_as_decimal_or_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size
