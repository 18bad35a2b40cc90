"""Idempotency-Key end to end, over HTTP on the embedded stack: a retried create is one dataset.

The probes this answers: an SQS failure on POST /datasets was a 500 whose retry made a second
dataset; a retried POST /uploads minted a second id.
"""

from __future__ import annotations

import threading
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import pytest

from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Route
from csvprof.domain.ports import WorkQueue
from csvprof.handlers import api, worker
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from tests.support.contracts import assert_valid
from tests.support.http import Answer, HttpApi


def create(http: HttpApi, body: bytes, name: str, key: str | None) -> Answer:
    headers = {"Content-Type": "text/csv", **({"Idempotency-Key": key} if key else {})}
    return http.call("POST", f"/datasets?name={name}", body, headers)


def datasets_named(http: HttpApi, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = http.call("GET", "/datasets?limit=100" + (f"&next_token={token}" if token else "")).json()
        found.extend(m for m in page["items"] if m["name"] == name)
        token = page["next_token"]
        if not token:
            return found


def test_a_retried_create_with_the_same_key_is_one_ready_dataset(http: HttpApi, orders_csv: bytes) -> None:
    name, key = f"retry-{uuid.uuid4().hex[:8]}.csv", str(uuid.uuid4())
    first = create(http, orders_csv, name, key)
    again = create(http, orders_csv, name, key)
    assert (first.status, again.status) == (202, 202)
    assert_valid("api-dataset-accepted", again.json())
    assert again.json()["dataset_id"] == first.json()["dataset_id"]
    assert http.wait_terminal(first.json()["dataset_id"])["status"] == "READY"
    assert len(datasets_named(http, name)) == 1

    reused = create(http, orders_csv + b"9,9,9\n", name, key)
    assert (reused.status, reused.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert_valid("api-error", reused.json())
    # Without a key, today's behaviour: each request is a new dataset.
    assert create(http, orders_csv, name, None).json()["dataset_id"] != first.json()["dataset_id"]


def test_concurrent_first_calls_with_one_key_make_one_dataset(http: HttpApi, orders_csv: bytes) -> None:
    name, key = f"race-{uuid.uuid4().hex[:8]}.csv", str(uuid.uuid4())
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: create(http, orders_csv, name, key), range(4)))
    assert {a.status for a in answers} == {202}
    (dataset_id,) = {a.json()["dataset_id"] for a in answers}
    assert http.wait_terminal(dataset_id)["status"] == "READY"
    assert len(datasets_named(http, name)) == 1


def test_a_retried_upload_start_gets_the_same_id_until_completed(http: HttpApi, orders_csv: bytes) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = http.call("POST", "/uploads?name=big.csv", headers=headers)
    again = http.call("POST", "/uploads?name=big.csv", headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert_valid("api-upload-started", again.json())
    dataset_id = first.json()["dataset_id"]
    assert again.json()["dataset_id"] == dataset_id

    target = again.json()["upload"]  # the fresh URL works as well as the first
    put = urllib.request.Request(target["url"], data=orders_csv, method="PUT", headers=target["headers"])  # noqa: S310
    with urllib.request.urlopen(put, timeout=30) as answer:  # noqa: S310 - the emulator's presigned URL
        assert answer.status == 200
    assert http.call("POST", again.json()["links"]["complete"]).status == 202

    after = http.call("POST", "/uploads?name=big.csv", headers=headers)
    assert (after.status, after.json()["code"]) == (409, "UPLOAD_ALREADY_COMPLETED")
    assert dataset_id in after.json()["message"]
    assert http.wait_terminal(dataset_id)["status"] == "READY"


def test_a_malformed_key_is_400_invalid_header(http: HttpApi, orders_csv: bytes) -> None:
    answer = create(http, orders_csv, "bad-key.csv", "k" * 256)
    assert (answer.status, answer.json()["code"]) == (400, "INVALID_HEADER")
    assert_valid("api-error", answer.json())


# --- the first attempt fails after it wrote the meta ---------------------------------------


@dataclass
class SendFailsOnce:
    """The real queue, except that its first send fails like an SQS outage."""

    inner: WorkQueue
    failed: threading.Event

    def send(self, route: Route, message: DatasetMessage) -> None:
        if not self.failed.is_set():
            self.failed.set()
            raise RuntimeError("SQS is unavailable")
        self.inner.send(route, message)


@pytest.fixture(scope="module")
def flaky_queue() -> Iterator[HttpApi]:
    with EmbeddedStack() as stack:
        service = api.build_service(stack.settings, stack.session)
        flaky = replace(service, queue=SendFailsOnce(service.queue, threading.Event()))
        api_handler = api.make_handler(stack.settings, stack.session, service=flaky)
        worker_handler = worker.make_handler(stack.settings, stack.session)
        with LocalRuntime(stack, api_handler, worker_handler) as running:
            yield HttpApi(running.api_url)


def test_a_500_from_a_failed_send_is_retried_into_the_same_ready_dataset(
    flaky_queue: HttpApi, orders_csv: bytes
) -> None:
    http, key = flaky_queue, str(uuid.uuid4())
    failed = create(http, orders_csv, "flaky.csv", key)
    assert (failed.status, failed.json()["code"]) == (500, "INTERNAL_ERROR")
    # The meta was written before the send failed: the 500 hid a created dataset.
    (hidden,) = datasets_named(http, "flaky.csv")
    retried = create(http, orders_csv, "flaky.csv", key)
    assert retried.status == 202
    assert retried.json()["dataset_id"] == hidden["dataset_id"]
    assert http.wait_terminal(hidden["dataset_id"])["status"] == "READY"
    assert len(datasets_named(http, "flaky.csv")) == 1
