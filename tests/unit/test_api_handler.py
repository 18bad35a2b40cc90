"""The API handler on in-memory ports: every route, from a realistic HTTP API event file.

The handler is `make_handler(SETTINGS, service=...)` exactly as deployed, with the AWS
adapters replaced by the fakes in tests/support/fakes.py; each answer is checked against
the published schemas, and the fakes tell what reached storage and the queue.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from csvprof.config import Settings
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Meta, Status
from csvprof.domain.datasets import DatasetService
from csvprof.domain.ports import Versioned
from csvprof.handlers.api import ROUTES, make_handler
from csvprof.local.context import new_context
from csvprof.profiler import ArrowProfileEngine, default_budget
from tests.support.contracts import assert_valid
from tests.support.events import load_event
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingQueue

SETTINGS = Settings(bucket="b", blue_queue_url="q1", green_queue_url="q2", event_bus_name="bus")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# The ids the sample events carry in their paths (and the list event as its next_token).
ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")
UPLOAD_ID = DatasetId("8d0c5e2a-1b7f-4c36-9e45-0a1b2c3d4e5f")
CSV = b"id,name,score,city\n1,alice,3.5,Paris\n2,bob,,Berlin\n3,carol,7.25,Paris\n"

# One event file per route of the deployed API.
ROUTE_EVENTS = {
    "POST /datasets": "apigw_v2_post_dataset",
    "GET /datasets": "apigw_v2_list_datasets_page",
    "POST /uploads": "apigw_v2_start_upload",
    "POST /uploads/{dataset_id}/complete": "apigw_v2_complete_upload",
    "GET /datasets/{dataset_id}": "apigw_v2_get_dataset",
    "GET /datasets/{dataset_id}/profile": "apigw_v2_get_profile",
    "GET /datasets/{dataset_id}/report": "apigw_v2_get_report",
}


@dataclass
class Api:
    """The API function over fakes, and what they recorded."""

    metas: InMemoryMetas = field(default_factory=InMemoryMetas)
    artifacts: InMemoryArtifacts = field(default_factory=InMemoryArtifacts)
    queue: RecordingQueue = field(default_factory=RecordingQueue)

    def call(self, event_name: str) -> tuple[int, Any]:
        """Invoke the handler with tests/events/<event_name>.json: (status, decoded JSON body)."""
        service = DatasetService(
            metas=self.metas,
            artifacts=self.artifacts,
            queue=self.queue,
            now=lambda: NOW,
            green_weight=lambda: 0,
        )
        handler = make_handler(SETTINGS, service=service)
        context = new_context("csvprof-api", memory_mb=512, timeout_s=29, region="us-east-1")
        answer = handler(load_event(event_name), context)
        assert answer["headers"]["Content-Type"] == "application/json"
        body = base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer["body"]
        return answer["statusCode"], json.loads(body)

    def given_meta(self, meta: Meta) -> None:
        self.metas.create(meta)
        self.metas.calls.clear()

    def untouched(self) -> bool:
        return self.metas.calls == [] and self.artifacts.calls == [] and self.queue.sent == []


@pytest.fixture
def api() -> Api:
    return Api()


def uploaded(dataset_id: DatasetId = ID, name: str | None = "sales.csv") -> Meta:
    return Meta.new(dataset_id, name=name, route="blue", source_bytes=len(CSV), now=NOW)


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert (status, body["code"]) == (expected_status, code), body
    assert_valid("api-error", body)


def test_every_route_has_a_sample_event_with_its_route_key() -> None:
    assert set(ROUTE_EVENTS) == set(ROUTES)
    for route_key, name in ROUTE_EVENTS.items():
        event = load_event(name)
        assert event["routeKey"] == event["requestContext"]["routeKey"] == route_key


# --- POST /datasets ----------------------------------------------------------------------------


def test_a_direct_upload_is_stored_registered_and_enqueued(api: Api) -> None:
    status, body = api.call("apigw_v2_post_dataset")

    assert status == 202
    assert_valid("api-dataset-accepted", body)
    dataset_id = body["dataset_id"]
    assert body["status"] == "UPLOADED"
    assert body["links"] == {"self": f"/datasets/{dataset_id}", "profile": f"/datasets/{dataset_id}/profile"}
    # The base64 body, decoded, is what was stored, under the ?name= the request gave
    sent = base64.b64decode(load_event("apigw_v2_post_dataset")["body"])
    assert api.artifacts.sources[dataset_id] == (sent, "sales.csv")
    meta = api.metas.stored[dataset_id][0]
    assert_valid("meta", meta.to_dict())
    assert (meta.status, meta.name, meta.source_bytes) == (Status.UPLOADED, "sales.csv", len(sent))
    ((route, message),) = api.queue.sent
    assert (route, message.dataset_id) == (meta.route, dataset_id)


def test_an_unsupported_media_type_is_415_and_touches_nothing(api: Api) -> None:
    event = load_event("apigw_v2_post_dataset_unsupported_media_type")
    assert event["headers"]["content-type"] == "application/json"

    status, body = api.call("apigw_v2_post_dataset_unsupported_media_type")

    assert_error(status, body, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "application/json" in body["message"]
    assert api.untouched()


# --- GET /datasets -----------------------------------------------------------------------------


def test_a_list_page_starts_after_the_token_and_links_the_next_page(api: Api) -> None:
    # Given one dataset before the event's next_token and three after it (limit=2)
    ids = [
        DatasetId("00000000-0000-4000-8000-000000000001"),
        DatasetId("5a000000-0000-4000-8000-000000000002"),
        DatasetId("6b000000-0000-4000-8000-000000000003"),
        DatasetId("7c000000-0000-4000-8000-000000000004"),
    ]
    for dataset_id in ids:
        api.given_meta(uploaded(dataset_id))
    query = load_event("apigw_v2_list_datasets_page")["queryStringParameters"]
    assert (query["limit"], query["next_token"]) == ("2", ID)

    status, body = api.call("apigw_v2_list_datasets_page")

    assert status == 200
    assert_valid("api-dataset-list", body)
    for item in body["items"]:
        assert_valid("meta", item)
    assert [item["dataset_id"] for item in body["items"]] == ids[1:3]
    assert body["next_token"] == ids[2]
    assert api.metas.calls == ["list"]


# --- POST /uploads and POST /uploads/{dataset_id}/complete ---------------------------------------


def test_starting_an_upload_presigns_a_put_and_registers_nothing(api: Api) -> None:
    status, body = api.call("apigw_v2_start_upload")

    assert status == 201
    assert_valid("api-upload-started", body)
    dataset_id = body["dataset_id"]
    assert body["upload"]["method"] == "PUT"
    assert body["links"] == {"complete": f"/uploads/{dataset_id}/complete"}
    assert api.artifacts.calls == [f"presign {dataset_id}"]
    assert (api.metas.calls, api.queue.sent) == ([], [])


def test_completing_an_upload_registers_and_enqueues_the_uploaded_object(api: Api) -> None:
    # Given the presigned PUT of the event's dataset has happened
    api.artifacts.put_source(UPLOAD_ID, CSV, "orders-2026-11.csv")

    status, body = api.call("apigw_v2_complete_upload")

    assert status == 202
    assert_valid("api-dataset-accepted", body)
    assert body["dataset_id"] == UPLOAD_ID
    meta = api.metas.stored[UPLOAD_ID][0]
    assert (meta.name, meta.source_bytes) == ("orders-2026-11.csv", len(CSV))
    assert [message.dataset_id for _, message in api.queue.sent] == [UPLOAD_ID]


def test_completing_an_upload_that_never_happened_is_409(api: Api) -> None:
    status, body = api.call("apigw_v2_complete_upload")

    assert_error(status, body, 409, "UPLOAD_NOT_FOUND")
    assert api.metas.stored == {}
    assert api.queue.sent == []


# --- GET /datasets/{dataset_id} and its profile ------------------------------------------------


def test_a_dataset_is_answered_with_its_meta(api: Api) -> None:
    api.given_meta(uploaded())

    status, body = api.call("apigw_v2_get_dataset")

    assert status == 200
    assert_valid("meta", body)
    assert body == api.metas.stored[ID][0].to_dict()
    assert api.metas.calls == [f"load {ID}"]


def test_an_unknown_dataset_is_404(api: Api) -> None:
    status, body = api.call("apigw_v2_get_dataset")
    assert_error(status, body, 404, "DATASET_NOT_FOUND")
    assert ID in body["message"]


def test_a_ready_dataset_answers_its_stored_profile(api: Api) -> None:
    # Given a READY dataset and its profile
    meta = uploaded().start(NOW).ready(NOW)
    api.given_meta(meta)
    profile = ArrowProfileEngine().profile(
        io.BytesIO(CSV), size=len(CSV), budget=default_budget(), dataset_id=ID
    )
    api.artifacts.put_profile(profile)

    status, body = api.call("apigw_v2_get_profile")

    assert status == 200
    assert_valid("profile", body)
    assert body == profile.to_dict()
    assert (body["dataset_id"], body["dataset"]["rows"]) == (ID, 3)


@pytest.mark.parametrize("status", [Status.UPLOADED, Status.PROCESSING])
def test_the_profile_of_an_unfinished_dataset_is_409(api: Api, status: Status) -> None:
    meta = uploaded()
    api.given_meta(meta.start(NOW) if status is Status.PROCESSING else meta)
    answered, body = api.call("apigw_v2_get_profile")
    assert_error(answered, body, 409, "PROFILE_NOT_READY")
    assert status.value in body["message"]


def test_the_report_of_a_ready_dataset_is_a_short_lived_link(api: Api) -> None:
    api.given_meta(uploaded().start(NOW).ready(NOW))
    api.artifacts.put_report(ID, "<!doctype html><title>r</title>")

    status, body = api.call("apigw_v2_get_report")

    assert status == 200
    assert_valid("api-report-link", body)
    assert body["url"].endswith(f"{ID}/report.html")
    assert f"presign_report {ID}" in api.artifacts.calls


def test_a_ready_dataset_without_a_report_is_404_report_not_found(api: Api) -> None:
    api.given_meta(uploaded().start(NOW).ready(NOW))
    status, body = api.call("apigw_v2_get_report")
    assert_error(status, body, 404, "REPORT_NOT_FOUND")
    assert f"/datasets/{ID}/profile" in body["message"]


@pytest.mark.parametrize("status", [Status.UPLOADED, Status.PROCESSING])
def test_the_report_of_an_unfinished_dataset_is_409(api: Api, status: Status) -> None:
    meta = uploaded()
    api.given_meta(meta.start(NOW) if status is Status.PROCESSING else meta)
    api.artifacts.put_report(ID, "<!doctype html>")  # even a stray page is not linked before READY
    answered, body = api.call("apigw_v2_get_report")
    assert_error(answered, body, 409, "PROFILE_NOT_READY")
    assert "presign_report" not in " ".join(api.artifacts.calls)


# --- client mistakes never reach storage; bugs are 500 -------------------------------------------


@pytest.mark.parametrize(
    "event_name", ["apigw_v2_get_dataset_invalid_id", "apigw_v2_complete_upload_invalid_id"]
)
def test_an_invalid_dataset_id_in_the_path_is_400_and_never_reaches_storage(
    api: Api, event_name: str
) -> None:
    api.given_meta(uploaded())  # a dataset exists: only the id's form decides
    raw_id = load_event(event_name)["pathParameters"]["dataset_id"]

    status, body = api.call(event_name)

    assert_error(status, body, 400, "INVALID_DATASET_ID")
    assert repr(raw_id) in body["message"]
    assert api.untouched()


def test_a_request_the_api_has_no_route_for_is_404_route_not_found(api: Api) -> None:
    event = load_event("apigw_v2_unmatched_route")
    assert event["routeKey"] == "$default"

    status, body = api.call("apigw_v2_unmatched_route")

    assert_error(status, body, 404, "ROUTE_NOT_FOUND")
    assert f"DELETE /datasets/{ID}" in body["message"]
    assert api.untouched()


class MetasDown(InMemoryMetas):
    def load(self, dataset_id: DatasetId) -> Versioned | None:
        self.calls.append(f"load {dataset_id}")
        raise ConnectionError("S3 endpoint unreachable: secret-bucket-name")


def test_an_unexpected_exception_in_the_service_is_500_internal_error(api: Api) -> None:
    api.metas = MetasDown()

    status, body = api.call("apigw_v2_get_dataset")

    assert_error(status, body, 500, "INTERNAL_ERROR")
    assert "secret-bucket-name" not in body["message"]  # the cause is logged, not answered
    assert api.metas.calls == [f"load {ID}"]


def test_a_handled_500_is_counted_by_the_alias_and_version_that_answered(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    # Lambda's Errors never sees a handled 500: ApiResponses5xx is what the canary alarms read.
    from csvprof.local.aliases import qualified_context

    api.metas = MetasDown()
    service = DatasetService(
        metas=api.metas, artifacts=api.artifacts, queue=api.queue, now=lambda: NOW, green_weight=lambda: 0
    )
    handler = make_handler(SETTINGS, service=service)
    context = qualified_context(
        new_context("csvprof-api", memory_mb=512, timeout_s=29, region="us-east-1"), alias="live", version="7"
    )

    answer = handler(load_event("apigw_v2_get_dataset"), context)

    assert answer["statusCode"] == 500
    [blob] = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "ApiResponses5xx" in line
    ]
    assert (blob["Alias"], blob["FunctionVersion"], blob["ApiResponses5xx"]) == ("live", "7", [1.0])
    assert blob["ApiLatencyMs"][0] >= 0
