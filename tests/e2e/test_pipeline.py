"""Upload -> READY through real HTTP, the SQS poller and the worker, on the embedded stack."""

from __future__ import annotations

import csv
import io
from typing import Any

from csvprof.local.stack import EmbeddedStack
from tests.support.contracts import assert_valid
from tests.support.http import HttpApi, wait_for


def events_for(stack: EmbeddedStack, dataset_id: str, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen.extend(stack.receive_events(wait_s=1))
    return [e for e in seen if e["detail"]["dataset_id"] == dataset_id]


def test_upload_reaches_ready_with_a_valid_profile(
    http: HttpApi, stack: EmbeddedStack, orders_csv: bytes
) -> None:
    # Given a realistic CSV, When it is uploaded through the HTTP API
    accepted = http.upload(orders_csv, name="orders.csv")
    assert accepted.status == 202
    body = accepted.json()
    assert_valid("api-dataset-accepted", body)
    dataset_id = body["dataset_id"]

    # Then it becomes READY, with a profile that is valid and right about the file
    meta = http.wait_terminal(dataset_id)
    assert_valid("meta", meta)
    assert meta["status"] == "READY", meta.get("error")
    assert (meta["name"], meta["source_bytes"], meta["attempts"]) == ("orders.csv", len(orders_csv), 1)

    answer = http.call("GET", body["links"]["profile"])
    assert answer.status == 200
    profile = answer.json()
    assert_valid("profile", profile)
    rows = list(csv.reader(io.StringIO(orders_csv.decode())))
    assert profile["dataset_id"] == dataset_id
    assert profile["dataset"]["rows"] == len(rows) - 1
    assert [c["name"] for c in profile["columns"]] == rows[0]
    assert profile["dialect"]["delimiter"] == ","
    assert profile["dialect"]["header"] is True

    # And the Dataset Profiled event went out on the bus
    seen: list[dict[str, Any]] = []
    events = wait_for(lambda: events_for(stack, dataset_id, seen), 10, what="Dataset Profiled event")
    assert [(e["source"], e["detail-type"]) for e in events] == [("csvprof", "Dataset Profiled")]
    assert_valid("event-dataset-profiled", events[0]["detail"])
    assert events[0]["detail"]["rows"] == len(rows) - 1


def test_every_bundled_example_profiles(http: HttpApi) -> None:
    from tests.conftest import EXAMPLES

    for path in sorted(EXAMPLES.iterdir()):
        dataset_id = http.upload(path.read_bytes(), name=path.name).json()["dataset_id"]
        meta = http.wait_terminal(dataset_id)
        assert meta["status"] == "READY", (path.name, meta.get("error"))


def test_listing_pages_through_every_dataset(http: HttpApi, orders_csv: bytes) -> None:
    created = {http.upload(orders_csv[:2000]).json()["dataset_id"] for _ in range(3)}
    found: set[str] = set()
    token = None
    pages = 0
    while True:
        query = "?limit=2" + (f"&next_token={token}" if token else "")
        page = http.call("GET", "/datasets" + query)
        assert page.status == 200
        assert_valid("api-dataset-list", page.json())
        assert len(page.json()["items"]) <= 2
        found |= {m["dataset_id"] for m in page.json()["items"]}
        pages += 1
        token = page.json()["next_token"]
        if token is None:
            break
    assert created <= found
    assert pages >= 2


def test_a_ready_dataset_links_to_its_report_page(http: HttpApi, orders_csv: bytes) -> None:
    import urllib.request

    dataset_id = http.upload(orders_csv, name="orders.csv").json()["dataset_id"]
    assert http.wait_terminal(dataset_id)["status"] == "READY"

    answer = http.call("GET", f"/datasets/{dataset_id}/report")
    assert answer.status == 200
    link = answer.json()
    assert_valid("api-report-link", link)

    # The presigned GET serves the stored page as HTML, without any signature of our own.
    with urllib.request.urlopen(link["url"], timeout=10) as page:  # noqa: S310 - the API's own link
        assert page.headers["Content-Type"].startswith("text/html")
        html = page.read().decode()
    header = next(csv.reader(io.StringIO(orders_csv.decode())))
    assert html.count("<article class=card") == len(header)
    assert "<script" not in html
