"""The client commands' wiring without a server: `get-report` (its route comes with the HTML
report, on another branch: a fake answers it here), `--stack`, and the one-line errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from csvprof import cli
from csvprof.cli import main
from csvprof.client import ApiResponse, CsvProfClient

LINK = "https://bucket.s3.amazonaws.com/profiles/x/report.html?X-Amz-Signature=abc"
DATASET = "4a912d16-5cb3-4aec-896e-1aee10823c7d"


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """CsvProfClient.request answered by a fake; the requests made are recorded."""
    seen: list[tuple[str, str]] = []

    def request(self: CsvProfClient, method: str, path: str, **kwargs: Any) -> ApiResponse:
        seen.append((method, self.base_url + path))
        if path.endswith(f"/datasets/{DATASET}/report"):
            body = {"dataset_id": DATASET, "url": LINK, "expires_at": "2026-01-01T00:00:00Z"}
            return ApiResponse(200, {}, json.dumps(body).encode())
        error = {"code": "DATASET_NOT_FOUND", "message": "no such dataset"}
        return ApiResponse(404, {}, json.dumps(error).encode())

    monkeypatch.setattr(CsvProfClient, "request", request)
    return seen


def test_get_report_prints_the_link(
    answers: list[tuple[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get-report", DATASET, "--api", "http://127.0.0.1:9/"]) == 0
    assert capsys.readouterr().out == LINK + "\n"
    assert answers == [("GET", f"http://127.0.0.1:9/datasets/{DATASET}/report")]
    assert main(["get-report", DATASET, "--api", "http://127.0.0.1:9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["url"] == LINK


def test_an_error_answer_is_one_line_with_its_code(
    answers: list[tuple[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    other = "00000000-0000-4000-8000-000000000000"
    assert main(["get-report", other, "--api", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err == "csvprof: the API answered HTTP 404 DATASET_NOT_FOUND: no such dataset\n"


def test_the_api_url_comes_from_the_environment_or_a_stack(
    answers: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CSVPROF_API_URL", "http://127.0.0.1:8")
    assert main(["get-report", DATASET]) == 0
    looked_up: list[tuple[str, str | None, str | None]] = []

    def stack_url(name: str, region: str | None, endpoint_url: str | None) -> str:
        looked_up.append((name, region, endpoint_url))
        return "https://abc.execute-api.eu-west-1.amazonaws.com"

    monkeypatch.setattr(cli, "_stack_api_url", stack_url)
    assert main(["get-report", DATASET, "--stack", "csvprof-prod"]) == 0
    assert looked_up == [("csvprof-prod", None, None)]
    assert [url for _, url in answers] == [
        f"http://127.0.0.1:8/datasets/{DATASET}/report",
        f"https://abc.execute-api.eu-west-1.amazonaws.com/datasets/{DATASET}/report",
    ]


def test_no_api_and_no_server_are_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CSVPROF_API_URL", raising=False)
    assert main(["list"]) == 1
    assert (
        capsys.readouterr().err
        == "csvprof: no API: give --api URL or --stack NAME (or set CSVPROF_API_URL)\n"
    )
    assert main(["status", DATASET, "--api", "http://127.0.0.1:9"]) == 1  # nothing listens on port 9
    err = capsys.readouterr().err
    assert err.startswith("csvprof: cannot reach the API: ")
    assert err.count("\n") == 1
