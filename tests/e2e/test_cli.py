"""The commands users type: `csvprof run`, `csvprof profile`, `csvprof generate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csvprof.cli import main
from tests.conftest import EXAMPLES
from tests.support.contracts import assert_valid


def test_run_profiles_the_sample_through_the_local_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "profile.json"
    assert main(["run", str(EXAMPLES / "orders.csv"), "--out", str(out)]) == 0
    profile = json.loads(out.read_text())
    assert_valid("profile", profile)
    printed = capsys.readouterr().out
    for column in profile["columns"]:
        assert column["name"] in printed
    assert "peak RSS" in printed


def test_run_exits_non_zero_with_the_code_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'id,comment\n1,"never closed\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "p.json")]) == 2
    assert "FAILED CSV_PARSE_ERROR" in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def test_profile_and_generate_work_without_any_emulator(tmp_path: Path) -> None:
    data = tmp_path / "gen.csv"
    assert main(["generate", str(data), "--size", "2MB", "--seed", "3"]) == 0
    assert 1_500_000 < data.stat().st_size < 2_600_000
    out = tmp_path / "profile.json"
    assert main(["profile", str(data), "--out", str(out)]) == 0
    profile = json.loads(out.read_text())
    assert_valid("profile", profile)
    assert profile["dataset"]["bytes"] == data.stat().st_size


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["run", str(tmp_path / "nope.csv")]) == 1
    assert main(["profile", str(tmp_path / "nope.csv")]) == 1
