"""LocalGateway: payload 2.0 events in, payload 2.0 responses out, API Gateway's limits enforced."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from csvprof.handlers.api import ROUTES
from csvprof.local.gateway import (
    API_GATEWAY_MAX_PAYLOAD_BYTES,
    InvalidLambdaResponseError,
    LocalGateway,
    map_result,
)
from tests.support.events import load_event

Handler = Callable[[dict[str, Any], Any], Any]


class Recorder:
    """A handler that keeps the events and contexts it got and answers with `result`."""

    def __init__(self, result: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self.result = result if result is not None else {"statusCode": 200, "body": "ok"}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        self.contexts.append(context)
        return self.result


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalGateway]]:
    gateways: list[LocalGateway] = []

    def start(handler: Handler, **kwargs: Any) -> LocalGateway:
        gateway = LocalGateway(handler, **kwargs).start()
        gateways.append(gateway)
        return gateway

    yield start
    for gateway in gateways:
        gateway.stop()


def call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    # Only the gateway's http://127.0.0.1 URLs reach here.
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


# --- request -> event ------------------------------------------------------------------


def test_post_becomes_a_payload_v2_event_that_powertools_reads(serve: Callable[..., LocalGateway]) -> None:
    # Given a gateway in front of a recording handler
    recorder = Recorder()
    gateway = serve(recorder, function_name="csvprof-api-test", timeout_s=7)
    body = b"id,name\n1,alice\n"

    # When a client POSTs a CSV with a repeated query parameter and cookies
    status, _, _ = call(
        f"{gateway.url}/datasets?name=a%20b.csv&tag=x&tag=y",
        "POST",
        body,
        {"Content-Type": "text/csv", "Cookie": "session=abc; theme=dark", "User-Agent": "csvprof-test/1"},
    )

    # Then the handler got the event API Gateway would build
    assert status == 200
    (raw,) = recorder.events
    event = APIGatewayProxyEventV2(raw)
    assert event.version == "2.0"
    assert event.route_key == "$default"
    assert event.raw_path == "/datasets"
    assert event.path == "/datasets"
    assert event.http_method == "POST"
    assert event.raw_query_string == "name=a%20b.csv&tag=x&tag=y"
    assert event.query_string_parameters == {"name": "a b.csv", "tag": "x,y"}
    assert event.get_query_string_value("name") == "a b.csv"
    assert event.cookies == ["session=abc", "theme=dark"]
    assert "cookie" not in event.headers
    assert event.headers["content-type"] == "text/csv"
    assert event.headers["content-length"] == str(len(body))
    assert all(name == name.lower() for name in event.headers)
    assert event.is_base64_encoded is True
    assert event.decoded_body == body.decode()
    assert base64.b64decode(raw["body"]) == body

    context = event.request_context
    assert context.account_id == "123456789012"
    assert context.api_id == gateway.api_id
    assert context.domain_name == "127.0.0.1"
    assert context.domain_prefix == "127"
    assert context.http.method == "POST"
    assert context.http.path == "/datasets"
    assert context.http.protocol == "HTTP/1.1"
    assert context.http.source_ip == "127.0.0.1"
    assert context.http.user_agent == "csvprof-test/1"
    assert context.route_key == "$default"
    assert context.stage == "$default"
    assert context.request_id.endswith("=")
    assert isinstance(context.time_epoch, int)
    assert context.time.endswith("+0000")

    # And a Lambda context whose clock starts at the function timeout
    (lambda_context,) = recorder.contexts
    assert lambda_context.function_name == "csvprof-api-test"
    assert lambda_context.invoked_function_arn.endswith(":function:csvprof-api-test")
    assert 0 < lambda_context.get_remaining_time_in_millis() <= 7000
    assert lambda_context.aws_request_id


def test_get_without_body_or_query_omits_them(serve: Callable[..., LocalGateway]) -> None:
    recorder = Recorder()
    gateway = serve(recorder)

    call(f"{gateway.url}/datasets/abc")

    (event,) = recorder.events
    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event
    assert "body" not in event
    assert "cookies" not in event
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "GET"


def test_powertools_resolver_routes_through_the_gateway(serve: Callable[..., LocalGateway]) -> None:
    # Given the resolver the API Lambda uses, with a path parameter route
    app = APIGatewayHttpResolver()

    @app.get("/datasets/<dataset_id>")
    def get_dataset(dataset_id: str) -> Response[str]:
        return Response(200, "application/json", json.dumps({"id": dataset_id}), cookies=[])

    gateway = serve(lambda event, context: app.resolve(event, context))

    # When the route and an unknown route are called
    ok = call(f"{gateway.url}/datasets/d-1")
    missing = call(f"{gateway.url}/nope")

    # Then routing, status and body survive the round trip
    assert ok[0] == 200
    assert json.loads(ok[2]) == {"id": "d-1"}
    assert ok[1]["Content-Type"] == "application/json"
    assert "apigw-requestid" in {name.lower() for name in ok[1]}
    assert missing[0] == 404


def test_chunked_request_body_is_reassembled(serve: Callable[..., LocalGateway]) -> None:
    recorder = Recorder()
    gateway = serve(recorder)
    parts = urlsplit(gateway.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("POST", "/datasets", body=iter([b"a,b\n", b"1,2\n"]), encode_chunked=True)
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert base64.b64decode(recorder.events[0]["body"]) == b"a,b\n1,2\n"


# --- result -> response ------------------------------------------------------------------


def test_structured_response_maps_status_headers_cookies_and_base64_body(
    serve: Callable[..., LocalGateway],
) -> None:
    result = {
        "statusCode": 201,
        "headers": {"content-type": "application/octet-stream", "x-multi": "a,b"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": base64.b64encode(b"\x00\x01binary").decode(),
        "isBase64Encoded": True,
    }
    gateway = serve(Recorder(result))
    with urllib.request.urlopen(f"{gateway.url}/x", timeout=10) as response:  # noqa: S310
        assert response.status == 201
        assert response.read() == b"\x00\x01binary"
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["x-multi"] == "a,b"
        assert response.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]


@pytest.mark.parametrize(
    ("result", "body"),
    [
        ({"message": "hi"}, b'{"message": "hi"}'),
        ("Hello from Lambda!", b"Hello from Lambda!"),
        ([1, 2], b"[1, 2]"),
    ],
    ids=["dict", "str", "list"],
)
def test_result_without_status_code_is_a_200_json_body(result: Any, body: bytes) -> None:
    response = map_result(result)
    assert response.status == 200
    assert ("content-type", "application/json") in response.headers
    assert response.body == body


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
        {"statusCode": 200, "headers": ["x"]},
    ],
    ids=["status-as-string", "body-object", "bad-base64", "headers-list"],
)
def test_malformed_structured_result_is_rejected(result: dict[str, Any]) -> None:
    with pytest.raises(InvalidLambdaResponseError):
        map_result(result)


def test_malformed_result_is_a_500_like_api_gateway(serve: Callable[..., LocalGateway]) -> None:
    gateway = serve(Recorder({"statusCode": "nope"}))
    status, _, body = call(f"{gateway.url}/x")
    assert (status, json.loads(body)) == (500, {"code": "INTERNAL_ERROR", "message": "Internal Server Error"})


def test_handler_exception_is_a_generic_500(serve: Callable[..., LocalGateway]) -> None:
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("secret detail")

    gateway = serve(broken)
    status, _, body = call(f"{gateway.url}/x")
    assert (status, json.loads(body)) == (500, {"code": "INTERNAL_ERROR", "message": "Internal Server Error"})


def test_handler_slower_than_the_function_timeout_is_a_500(serve: Callable[..., LocalGateway]) -> None:
    release = threading.Event()

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        release.wait(10)
        return {"statusCode": 200}

    gateway = serve(slow, timeout_s=0.2)
    try:
        status, _, _ = call(f"{gateway.url}/x")
    finally:
        release.set()  # let the abandoned invocation finish
    assert status == 500  # a function timeout is a function error to an HTTP API


# --- limits ---------------------------------------------------------------------------------


def test_declared_body_over_10_mb_is_refused_before_it_is_read(serve: Callable[..., LocalGateway]) -> None:
    # Given a gateway with the real 10 MB limit
    recorder = Recorder()
    gateway = serve(recorder)
    parts = urlsplit(gateway.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        # When a request declares one byte more than the limit (and sends none of it)
        connection.putrequest("POST", "/datasets")
        connection.putheader("Content-Length", str(API_GATEWAY_MAX_PAYLOAD_BYTES + 1))
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()

    # Then the gateway answers 413 itself and the function is never invoked
    assert response.status == 413
    assert body["code"] == "PAYLOAD_TOO_LARGE"
    assert body["message"]
    assert recorder.events == []


def test_sent_body_over_the_limit_is_a_413(serve: Callable[..., LocalGateway]) -> None:
    recorder = Recorder()
    gateway = serve(recorder, max_payload_bytes=1024)
    status, _, body = call(f"{gateway.url}/datasets", "POST", b"x" * 1025)
    assert status == 413
    assert json.loads(body)["code"] == "PAYLOAD_TOO_LARGE"
    assert recorder.events == []


def test_body_under_10_mb_but_over_the_lambda_invoke_limit_is_a_413(
    serve: Callable[..., LocalGateway],
) -> None:
    # 5 MiB passes API Gateway but is 6.7 MB once base64-encoded: Lambda refuses the invoke.
    recorder = Recorder()
    gateway = serve(recorder)
    status, _, body = call(f"{gateway.url}/datasets", "POST", b"x" * (5 * 1024 * 1024))
    assert status == 413
    assert json.loads(body)["code"] == "PAYLOAD_TOO_LARGE"
    assert recorder.events == []


# --- the sample events ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "method", "path", "body"),
    [
        ("apigw_v2_post_dataset", "POST", "/datasets?name=sales.csv", b"id\n1\n"),
        ("apigw_v2_get_dataset", "GET", "/datasets/3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d", None),
        (
            "apigw_v2_list_datasets_page",
            "GET",
            "/datasets?limit=2&next_token=3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d",
            None,
        ),
        ("apigw_v2_start_upload", "POST", "/uploads?name=orders-2026-11.csv", None),
        ("apigw_v2_complete_upload", "POST", "/uploads/8d0c5e2a-1b7f-4c36-9e45-0a1b2c3d4e5f/complete", None),
        ("apigw_v2_get_profile", "GET", "/datasets/3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d/profile", None),
    ],
)
def test_gateway_event_has_the_shape_of_the_sample_event(
    serve: Callable[..., LocalGateway], sample: str, method: str, path: str, body: bytes | None
) -> None:
    # The samples are what a deployed HTTP API (AWS_IAM auth) sends; the gateway builds the
    # same keys, except the authorizer block it does not emulate.
    expected = load_event(sample)
    recorder = Recorder()
    gateway = serve(recorder, routes=ROUTES)

    call(f"{gateway.url}{path}", method, body)

    (event,) = recorder.events
    assert set(event) == set(expected)
    assert set(event["requestContext"]) == set(expected["requestContext"]) - {"authorizer"}
    assert set(event["requestContext"]["http"]) == set(expected["requestContext"]["http"])
    assert event["isBase64Encoded"] == expected["isBase64Encoded"]
    assert event["routeKey"] == event["requestContext"]["routeKey"] == expected["routeKey"]
    assert event.get("pathParameters") == expected.get("pathParameters")
