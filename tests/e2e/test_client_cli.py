"""The API's client commands against the local API, signed with the standard credential chain
(the test environment's `testing` key pair): upload, status, get, list, diff of two downloads."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from csvprof.cli import main
from csvprof.local.runtime import LocalRuntime
from csvprof.local.testdata import write_csv
from tests.conftest import EXAMPLES
from tests.support.contracts import assert_valid


@pytest.fixture(autouse=True)
def signing_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The standard chain reads these; the local gateway accepts testing/testing.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def cli_out(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's stdout, without the lines the in-process handlers log (JSON, EMF)."""
    lines = capsys.readouterr().out.splitlines()
    return "\n".join(line for line in lines if not line.startswith(('{"level"', '{"_aws"')))


def run_json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> object:
    assert main(list(argv)) == code
    return json.loads(cli_out(capsys))


def test_upload_wait_get_list_and_diff(
    runtime: LocalRuntime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = ["--api", runtime.api_url]
    meta = run_json(capsys, "upload", str(EXAMPLES / "orders.csv"), *api, "--wait", "--json")
    assert isinstance(meta, dict)
    assert meta["status"] == "READY"
    assert_valid("meta", meta)
    dataset_id = meta["dataset_id"]

    assert main(["status", dataset_id, *api]) == 0
    assert cli_out(capsys).strip() == f"{dataset_id} READY"

    out = tmp_path / "p.json"
    assert main(["get", dataset_id, *api, "--out", str(out)]) == 0
    assert "order_id" in cli_out(capsys)  # the summary table
    assert_valid("profile", json.loads(out.read_text()))

    page = run_json(capsys, "list", *api, "--limit", "100000", "--json")  # every page: the bucket is shared
    assert isinstance(page, dict)
    assert dataset_id in {m["dataset_id"] for m in page["items"]}

    # The report: a presigned link to the page the worker stored beside the profile.
    link = run_json(capsys, "get-report", dataset_id, *api, "--json")
    assert isinstance(link, dict)
    assert_valid("api-report-link", link)
    with urllib.request.urlopen(link["url"], timeout=30) as answer:  # noqa: S310 - the local emulator
        assert answer.headers["Content-Type"].startswith("text/html")
        assert "order_id" in answer.read().decode()

    # The CI recipe on two downloads of the same file: no drift.
    again = tmp_path / "again.json"
    assert main(["get", dataset_id, *api, "--out", str(again)]) == 0
    capsys.readouterr()
    assert main(["diff", str(out), str(again)]) == 0


def test_a_large_file_goes_presigned_with_progress(
    runtime: LocalRuntime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.csv"
    write_csv(big, 5 * 2**20, seed=7)
    assert main(["upload", str(big), "--api", runtime.api_url, "--name", "big.csv"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    (dataset_id,) = [line for line in lines if not line.startswith(('{"level"', '{"_aws"'))]
    # Not a terminal: one progress line per 10 % step, then the acceptance.
    assert "100%" in captured.err
    assert f"dataset {dataset_id} accepted" in captured.err
    meta = run_json(capsys, "status", dataset_id, "--api", runtime.api_url, "--wait", "--json")
    assert isinstance(meta, dict)
    assert (meta["status"], meta["name"]) == ("READY", "big.csv")


def test_failed_and_unknown_datasets_are_one_line_errors(
    runtime: LocalRuntime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'id,comment\n1,"never closed\n')
    assert main(["upload", str(bad), "--api", runtime.api_url, "--wait"]) == 2
    err = capsys.readouterr().err
    assert "FAILED CSV_PARSE_ERROR" in err

    unknown = "00000000-0000-4000-8000-000000000000"
    assert main(["get", unknown, "--api", runtime.api_url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("csvprof: the API answered HTTP 404")
    assert "\n" not in err


def test_an_unsigned_caller_gets_the_registry_code(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    assert main(["list", "--api", runtime.api_url]) == 1
    assert "ACCESS_DENIED" in capsys.readouterr().err
