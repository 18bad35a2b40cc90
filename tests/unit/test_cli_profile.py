"""`csvprof profile`: its output where the user asked, and every error one line on stderr."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from csvprof import cli
from csvprof.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from csvprof.profiler import ArrowProfileEngine
from tests.support.contracts import ROOT, assert_valid


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(b"id,name\n1,a\n2,b\n")
    return path


@pytest.fixture
def never_profiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine must not run: a wrong --out is found before any profiling."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("profiled before the output was checked")

    monkeypatch.setattr(ArrowProfileEngine, "profile", refuse)


PROGRESS = re.compile(r"^\d+%\s+\d+\.\d s$")  # `csvprof profile`'s progress lines, when not a terminal


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_a_profile_is_written_and_summarised(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.json"
    assert main(["profile", str(data), "--out", str(out), "--workers", "1"]) == EXIT_OK
    assert_valid("profile", json.loads(out.read_text()))
    assert "2 rows x 2 columns" in capsys.readouterr().out


@pytest.mark.usefixtures("never_profiles")
@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (lambda tmp: tmp / "missing" / "p.json", "no such folder"),
        (lambda tmp: tmp / "data.csv" / "p.json", "not a folder"),
        (lambda tmp: tmp, "is a folder"),
    ],
    ids=["missing-folder", "folder-is-a-file", "out-is-a-folder"],
)
def test_an_unwritable_out_is_one_line_before_any_profiling(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: Any, problem: str
) -> None:
    out: Path = where(tmp_path)
    assert main(["profile", str(data), "--out", str(out)]) == EXIT_USAGE
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert line.startswith(f"csvprof: cannot write {out}: ")
    assert problem in line
    assert captured.out == ""


@pytest.mark.usefixtures("never_profiles")
def test_a_read_only_folder_is_found_before_any_profiling(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() == 0:  # root writes through permission bits; /proc takes no new files
        folder = Path("/proc")
        if not folder.is_dir():
            pytest.skip("needs /proc when run as root")
    else:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
    out = folder / "p.json"
    assert main(["profile", str(data), "--out", str(out)]) == EXIT_USAGE
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"csvprof: cannot write {out}: {folder}: not writable")


def test_a_failed_profile_is_one_line_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'id,comment\n1,"never closed\n')
    out = tmp_path / "p.json"
    assert main(["profile", str(bad), "--out", str(out), "--workers", "1"]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert captured.out == ""
    assert one_error_line(captured.err).startswith("FAILED CSV_PARSE_ERROR: ")
    assert not out.exists()


def test_a_missing_input_and_a_bad_option_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profile", str(tmp_path / "nope.csv")]) == EXIT_USAGE
    assert one_error_line(capsys.readouterr().err) == f"csvprof: {tmp_path / 'nope.csv'}: no such file"
    with pytest.raises(SystemExit) as exited:
        main(["profile"])
    assert exited.value.code == EXIT_USAGE
    assert one_error_line(capsys.readouterr().err).startswith("csvprof profile: error: ")


def test_a_write_that_fails_after_profiling_is_one_line(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The folder was writable when checked and is not any more (a full disk, a revoked mount).
    def disk_full(self: Path, *args: Any, **kwargs: Any) -> int:
        raise OSError(28, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", disk_full)
    out = tmp_path / "p.json"
    assert cli.main(["profile", str(data), "--out", str(out), "--workers", "1"]) == EXIT_USAGE
    assert one_error_line(capsys.readouterr().err) == f"csvprof: {out}: No space left on device"


def test_the_command_itself_exits_non_zero_without_a_traceback(tmp_path: Path, data: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "csvprof.cli", "profile", str(data), "--out", str(tmp_path / "no" / "p.json")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == EXIT_USAGE
    assert done.stdout == ""
    assert one_error_line(done.stderr).startswith("csvprof: cannot write ")
