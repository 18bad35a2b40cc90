"""The gateway's own answers: broken framing, unknown routes and methods, limits, timeouts.

Raw sockets, so the tests can send what no well-behaved client would.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from csvprof.local.context import new_context
from csvprof.local.gateway import LISTEN_BACKLOG, LocalGateway, _FifoLock
from csvprof.local.runtime import one_at_a_time
from tests.support.contracts import assert_valid

ROUTES = ["POST /datasets", "GET /datasets", "GET /datasets/{dataset_id}"]


class Recorder:
    def __init__(self) -> None:
        self.bodies: list[str | None] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.bodies.append(event.get("body"))
        return {"statusCode": 200, "body": "{}"}


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def gateway(recorder: Recorder) -> Iterator[LocalGateway]:
    with LocalGateway(recorder, routes=ROUTES, read_timeout_s=0.5, max_payload_bytes=1024) as started:
        yield started


def exchange(
    gateway: LocalGateway, data: bytes, *, half_close: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read one answer (status, headers, body)."""
    parts = urlsplit(gateway.url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def assert_api_error(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> dict[str, Any]:
    got_status, headers, raw = answer
    body: dict[str, Any] = json.loads(raw)
    assert (got_status, body["code"]) == (status, code), body
    assert_valid("api-error", body)
    assert headers["content-type"] == "application/json"
    return body


def post(headers: str, body: bytes = b"") -> bytes:
    return f"POST /datasets HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


# --- Content-Length -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Content-Length: abc\r\n",
        "Content-Length: -1\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
    ],
    ids=["non-numeric", "negative", "signed", "conflicting"],
)
def test_a_bad_content_length_is_a_400(
    gateway: LocalGateway, recorder: Recorder, header: str, capfd: pytest.CaptureFixture[str]
) -> None:
    body = assert_api_error(exchange(gateway, post(header, b"abc")), 400, "MALFORMED_REQUEST")
    assert "Content-Length" in body["message"]
    assert recorder.bodies == []
    assert "Traceback" not in capfd.readouterr().err


def test_a_body_shorter_than_its_content_length_is_never_accepted(
    gateway: LocalGateway, recorder: Recorder
) -> None:
    # 78 of a declared 1,000 bytes, then the client stops sending (half-close).
    answer = exchange(gateway, post("Content-Length: 1000\r\n", b"x" * 78), half_close=True)
    body = assert_api_error(answer, 400, "MALFORMED_REQUEST")
    assert "78 of the 1000" in body["message"]
    assert recorder.bodies == []


def test_a_half_sent_body_times_out_instead_of_holding_a_thread(
    gateway: LocalGateway, recorder: Recorder
) -> None:
    started = time.monotonic()
    answer = exchange(gateway, post("Content-Length: 1000\r\n", b"x" * 78))
    assert_api_error(answer, 400, "MALFORMED_REQUEST")
    assert time.monotonic() - started < 5  # read_timeout_s is 0.5
    assert recorder.bodies == []


def test_a_trickled_body_cannot_stretch_the_read_deadline(gateway: LocalGateway, recorder: Recorder) -> None:
    parts = urlsplit(gateway.url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
        sock.sendall(post("Content-Length: 100\r\n"))
        try:
            for _ in range(20):  # one byte every 0.1 s: each read is in time, the request is not
                sock.sendall(b"x")
                time.sleep(0.1)
        except OSError:
            pass  # the gateway gave up and closed
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 400
    assert time.monotonic() - started < 5
    assert recorder.bodies == []


def test_a_keep_alive_connection_serves_a_second_request(gateway: LocalGateway, recorder: Recorder) -> None:
    parts = urlsplit(gateway.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        for body in (b"a\n1\n", b"b\n2\n"):
            connection.request("POST", "/datasets", body=body)
            response = connection.getresponse()
            response.read()
            assert response.status == 200
    finally:
        connection.close()
    assert len(recorder.bodies) == 2


# --- chunked --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n", b"-3\r\nabc\r\n0\r\n\r\n", b"3\r\nab"],
    ids=["not-hex", "data-longer-than-size", "negative", "ends-inside-a-chunk"],
)
def test_a_bad_chunked_encoding_is_a_400(gateway: LocalGateway, recorder: Recorder, chunks: bytes) -> None:
    answer = exchange(gateway, post("Transfer-Encoding: chunked\r\n", chunks), half_close=True)
    assert_api_error(answer, 400, "MALFORMED_REQUEST")
    assert recorder.bodies == []


def test_transfer_encoding_with_content_length_is_a_400(gateway: LocalGateway) -> None:
    data = post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", b"3\r\nabc\r\n0\r\n\r\n")
    assert_api_error(exchange(gateway, data), 400, "MALFORMED_REQUEST")


def test_a_chunked_body_with_extensions_and_trailers_is_reassembled(
    gateway: LocalGateway, recorder: Recorder
) -> None:
    data = post(
        "Transfer-Encoding: chunked\r\n", b"4;ext=1\r\na,b\n\r\n4\r\n1,2\n\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    assert exchange(gateway, data)[0] == 200
    assert recorder.bodies == ["YSxiCjEsMgo="]  # base64 of "a,b\n1,2\n"


def test_a_chunked_body_over_the_limit_is_a_413(gateway: LocalGateway) -> None:
    data = post("Transfer-Encoding: chunked\r\n", b"400\r\n" + b"x" * 1024 + b"\r\n1\r\nx\r\n0\r\n\r\n")
    assert_api_error(exchange(gateway, data), 413, "PAYLOAD_TOO_LARGE")


# --- request line, methods, routes ------------------------------------------------------------


def test_a_garbage_request_line_is_a_400_api_error(gateway: LocalGateway) -> None:
    assert_api_error(exchange(gateway, b"GET / HTTP/9.9\r\n\r\n"), 400, "MALFORMED_REQUEST")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("TRACE", "/datasets", "GET, POST"),
        ("QUERY", "/datasets", "GET, POST"),
        ("DELETE", "/datasets/abc", "GET"),
        ("OPTIONS", "/datasets/abc", "GET"),
    ],
)
def test_a_method_the_path_has_no_route_for_is_a_405_with_allow(
    gateway: LocalGateway, recorder: Recorder, method: str, path: str, allow: str
) -> None:
    answer = exchange(gateway, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert_api_error(answer, 405, "METHOD_NOT_ALLOWED")
    assert answer[1]["allow"] == allow
    assert recorder.bodies == []


def test_an_unknown_path_is_a_404_api_error(gateway: LocalGateway) -> None:
    assert_api_error(exchange(gateway, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"), 404, "ROUTE_NOT_FOUND")


def test_without_routes_methods_an_http_api_lacks_are_405(recorder: Recorder) -> None:
    with LocalGateway(recorder) as gateway:
        answer = exchange(gateway, b"TRACE /x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert_api_error(answer, 405, "METHOD_NOT_ALLOWED")
        assert answer[1]["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
        assert exchange(gateway, b"PATCH /x HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200


# --- 413 without a reset --------------------------------------------------------------------


def test_a_413_reaches_a_client_still_sending_its_body(gateway: LocalGateway, recorder: Recorder) -> None:
    # 4 MiB against a 1 KiB limit: the gateway answers at once and reads the rest away, so
    # the client finishes sending and reads the answer instead of a connection reset.
    parts = urlsplit(gateway.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("POST", "/datasets", body=b"x" * (4 * 1024 * 1024))
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert (response.status, body["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert response.getheader("Connection") == "close"
    assert recorder.bodies == []


def test_expect_100_continue_over_the_limit_is_refused_before_the_body(gateway: LocalGateway) -> None:
    data = post("Content-Length: 4096\r\nExpect: 100-continue\r\n")
    assert_api_error(exchange(gateway, data), 413, "PAYLOAD_TOO_LARGE")


def test_the_listen_backlog_is_not_socketservers_five(gateway: LocalGateway) -> None:
    assert LISTEN_BACKLOG >= 128
    assert gateway._server is not None
    assert gateway._server.request_queue_size == LISTEN_BACKLOG


# --- function timeout -----------------------------------------------------------------------


def test_after_the_function_timeout_the_result_is_discarded_and_queued_calls_never_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given the function's one sandbox, whose first invocation hangs
    release = threading.Event()
    calls: list[str] = []

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event["rawPath"])
        release.wait(5)
        return {"statusCode": 200, "body": "late"}

    with LocalGateway(slow, timeout_s=0.3, integration_timeout_s=1.0) as gateway:
        answers: dict[str, tuple[int, dict[str, str], bytes]] = {}

        def send(path: str) -> None:
            answers[path] = exchange(gateway, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

        # When a second request arrives while the first one hangs
        threads = [threading.Thread(target=send, args=(path,)) for path in ("/a", "/b")]
        for thread in threads:
            thread.start()
            time.sleep(0.1)
        for thread in threads:
            thread.join(10)
        release.set()
        time.sleep(0.3)  # the abandoned invocation ends and frees the sandbox

    # Then the hung one timed out as a function (10 s locally 0.3 s, from when it started):
    # 500; the queued one never got the sandbox within the integration timeout: 504, and it
    # never ran; the late result was not sent anywhere
    assert_api_error(answers["/a"], 500, "INTERNAL_ERROR")
    assert_api_error(answers["/b"], 504, "GATEWAY_TIMEOUT")
    assert calls == ["/a"]
    assert any("discarded" in record.getMessage() for record in caplog.records)


def test_the_function_timeout_counts_from_the_sandbox_not_from_arrival() -> None:
    # Given invocations of 0.2 s each, a 0.3 s function timeout and one sandbox
    def busy(event: dict[str, Any], context: Any) -> dict[str, Any]:
        time.sleep(0.2)
        return {"statusCode": 200, "body": str(context.get_remaining_time_in_millis())}

    with LocalGateway(busy, timeout_s=0.3, integration_timeout_s=5.0) as gateway:
        answers: list[tuple[int, dict[str, str], bytes]] = []
        lock = threading.Lock()

        def send() -> None:
            answer = exchange(gateway, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
            with lock:
                answers.append(answer)

        # When four arrive together (the last waits ~0.6 s for the sandbox, past 0.3 s)
        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    # Then every one ran to its end in time: queueing is not the function's time
    assert [answer[0] for answer in answers] == [200] * 4
    assert all(0 < int(answer[2]) <= 300 for answer in answers)


def test_one_at_a_time_restarts_the_deadline_when_the_sandbox_is_free() -> None:
    context = new_context("f", memory_mb=128, timeout_s=0.5, region="us-east-1")
    time.sleep(0.3)
    remaining: list[int] = []
    one_at_a_time(lambda event, ctx: remaining.append(ctx.get_remaining_time_in_millis()))({}, context)
    assert remaining[0] > 400


@pytest.mark.parametrize(
    "request_line",
    [b"GET /datasets HTTP/1.x\r\n\r\n", b"GET /datasets\r\n\r\n", b"GET\r\n\r\n"],
    ids=["bad-version", "http-0.9", "no-target"],
)
def test_an_unparseable_request_line_is_a_400_api_error(gateway: LocalGateway, request_line: bytes) -> None:
    assert_api_error(exchange(gateway, request_line), 400, "MALFORMED_REQUEST")


def test_the_sandbox_is_taken_in_arrival_order() -> None:
    # Given the sandbox held, and ten invocations queued one after the other
    sandbox = _FifoLock()
    order: list[int] = []
    sandbox.__enter__()

    def invoke(index: int) -> None:
        with sandbox:
            order.append(index)

    threads = []
    for index in range(10):
        threads.append(threading.Thread(target=invoke, args=(index,)))
        threads[-1].start()
        time.sleep(0.02)
    # When it is released
    sandbox.__exit__(None, None, None)
    for thread in threads:
        thread.join(5)
    # Then they ran first come, first served
    assert order == list(range(10))
