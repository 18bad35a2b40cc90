"""Files above the direct-upload limit go through a presigned PUT; routing follows the weight."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from csvprof.limits import MAX_DIRECT_UPLOAD_BYTES
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from csvprof.local.testdata import write_csv
from tests.support.contracts import assert_valid
from tests.support.http import HttpApi, wait_for
from tests.support.pipeline import Pipeline


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.csv"
    write_csv(path, MAX_DIRECT_UPLOAD_BYTES + 1_000_000, seed=7)
    return path


def test_presigned_upload_of_a_file_over_the_direct_limit(http: HttpApi, big_csv: Path) -> None:
    body = big_csv.read_bytes()
    assert len(body) > MAX_DIRECT_UPLOAD_BYTES
    assert http.upload(body).status == 413  # too big for the direct route

    started = http.call("POST", "/uploads?name=big.csv")
    assert started.status == 201
    upload = started.json()
    assert_valid("api-upload-started", upload)
    dataset_id = upload["dataset_id"]

    # Completing before the PUT is a client mistake, and registers nothing.
    assert http.call("POST", upload["links"]["complete"]).json()["code"] == "UPLOAD_NOT_FOUND"
    assert http.call("GET", f"/datasets/{dataset_id}").status == 404

    target = upload["upload"]
    put = urllib.request.Request(target["url"], data=body, method="PUT", headers=target["headers"])  # noqa: S310
    with urllib.request.urlopen(put, timeout=60) as answer:  # noqa: S310 - the emulator's presigned URL
        assert answer.status == 200

    completed = http.call("POST", upload["links"]["complete"])
    assert completed.status == 202
    assert_valid("api-dataset-accepted", completed.json())
    again = http.call("POST", upload["links"]["complete"])  # idempotent: same dataset, no second message
    assert (again.status, again.json()["dataset_id"]) == (202, dataset_id)

    meta = http.wait_terminal(dataset_id, timeout_s=120)
    assert (meta["status"], meta["name"], meta["source_bytes"]) == ("READY", "big.csv", len(body))
    profile = http.call("GET", f"/datasets/{dataset_id}/profile").json()
    assert profile["dataset"]["bytes"] == len(body)


@pytest.fixture(scope="module")
def all_green() -> Iterator[tuple[LocalRuntime, HttpApi]]:
    with EmbeddedStack(green_weight=100) as stack:
        pipe = Pipeline.on(stack)
        with LocalRuntime(stack, pipe.api, pipe.worker) as running:
            yield running, HttpApi(running.api_url)


def test_weight_100_routes_every_dataset_to_green_and_green_workers_finish_them(
    all_green: tuple[LocalRuntime, HttpApi], orders_csv: bytes
) -> None:
    running, http = all_green
    for _ in range(3):
        dataset_id = http.upload(orders_csv).json()["dataset_id"]
        meta = http.wait_terminal(dataset_id)
        assert (meta["route"], meta["status"]) == ("green", "READY")
    # Only the green event-source mapping consumed anything (it deletes just after READY).
    wait_for(lambda: running.pollers["green"].stats.deleted == 3, 10, what="green deletes")
    assert running.pollers["blue"].stats.invocations == 0
