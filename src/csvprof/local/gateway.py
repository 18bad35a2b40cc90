"""LocalGateway: plays API Gateway HTTP API (payload format 2.0) in front of a Lambda handler.

Every request becomes the event a route with a Lambda proxy integration receives, and
the function's result is mapped back with the payload 2.0 rules, including the quotas a
deployed API enforces (10 MB request, 6 MB Lambda invoke, function timeout), so a local
run fails where AWS would. With `credentials`, every route uses AWS_IAM authorization:
the request's SigV4 signature is verified (`csvprof.local.sigv4`) before the function runs.

Every error the gateway answers itself is an api-error body (`{"code", "message"}`, a
registry code); on AWS, API Gateway answers its own errors as `{"message": ...}`, which
`csvprof.client` maps back to the same codes.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from csvprof.errors import (
    AccessDenied,
    CsvProfError,
    GatewayTimeout,
    InternalError,
    MalformedRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
)
from csvprof.limits import API_MEMORY_MB, API_TIMEOUT_S, MiB
from csvprof.local.context import DEFAULT_ACCOUNT_ID, new_context
from csvprof.local.lifecycle import Service
from csvprof.local.sigv4 import Caller, SigV4Verifier

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

# API Gateway quota: "Maximum payload size" of an HTTP API request. Not in limits.py
# because the product does not choose it; limits.MAX_DIRECT_UPLOAD_BYTES derives from it.
API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * MiB
# Lambda quota for a synchronous invocation, request and response alike.
LAMBDA_MAX_INVOKE_PAYLOAD_BYTES = 6 * MiB
# API Gateway quota: "Maximum integration timeout" of an HTTP API, 30 s, for the whole
# integration call from when the request arrives (docs.aws.amazon.com/apigateway/latest/
# developerguide/http-api-quotas.html). The function's own timeout (10 s) counts only from
# when its invocation starts running in a sandbox.
API_GATEWAY_INTEGRATION_TIMEOUT_S = 30.0

# The methods an HTTP API route can have (ANY is all of them); others (TRACE, CONNECT,
# QUERY, ...) are answered 405 without invoking the function.
HTTP_API_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# How long a client may take to send one request (line, headers, body) or to start the
# next on a kept-alive connection; then the gateway answers 400 (if a body was due) and
# closes, so a half-sent request cannot hold a thread.
DEFAULT_READ_TIMEOUT_S = 30.0
# listen() backlog: connections the kernel queues while every handler thread is busy
# accepting; socketserver's default of 5 resets clients under a burst.
LISTEN_BACKLOG = 1024
# After an error that closes the connection, the unread rest of the request is read and
# dropped (for at most this long and this much) so the close does not reset the client
# before it has read the answer.
LINGER_S = 5.0
LINGER_MAX_BYTES = 64 * MiB
_MAX_CHUNK_LINE = 4096
_MAX_TRAILERS = 100
_READ_SIZE = 256 * 1024
_CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r?\n")


class _FifoLock:
    """A lock handed to its waiters in arrival order. threading.Lock is not fair: under a burst
    some invocations would wait far longer than the queue is long, and pass the integration
    timeout while later arrivals run."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()  # release() hands the lock over directly: _held stays True

    def __exit__(self, *exc: object) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._held = False


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class InvalidLambdaResponseError(Exception):
    """The function returned something payload 2.0 cannot map: API Gateway answers 500."""


# --- request -> event ------------------------------------------------------------------


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    api_id: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: float | None = None,
    route_key: str = "$default",
    path_parameters: dict[str, str] | None = None,
    caller: Caller | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event for one request, as API Gateway builds it for the matched route."""
    moment = time.time() if now is None else now
    split = urlsplit(target)
    raw_path = split.path or "/"
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            # Payload 2.0 moves cookies out of the headers into their own list.
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # Repeated headers are comma-joined, as in payload 2.0.
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    host = lowered.get("host", "localhost")
    domain_name = host.split(":", 1)[0]
    request_id = _request_id()
    lowered.setdefault("x-amzn-trace-id", _trace_id(moment))
    lowered.setdefault("x-forwarded-for", source_ip)
    lowered.setdefault("x-forwarded-port", host.rsplit(":", 1)[1] if ":" in host else "80")
    lowered.setdefault("x-forwarded-proto", "http")

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": split.query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = lowered
    if split.query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(split.query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = path_parameters
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        **({"authorizer": caller.authorizer()} if caller is not None else {}),
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": method,
            "path": unquote(raw_path),
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": lowered.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(moment)),
        "timeEpoch": int(moment * 1000),
    }
    if body:
        # Always base64: a handler that decodes `isBase64Encoded` bodies works on AWS for
        # text and binary content types alike.
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def _request_id() -> str:
    # API Gateway's shape: 16 base64-ish characters ending in "=".
    return base64.b64encode(secrets.token_bytes(12)).decode()[:15] + "="


def _trace_id(moment: float) -> str:
    return f"Root=1-{int(moment):08x}-{secrets.token_hex(12)}"


# --- result -> response ----------------------------------------------------------------


def map_result(result: Any) -> HttpResponse:
    """Payload 2.0 response rules; raises InvalidLambdaResponseError where API Gateway answers 500."""
    if isinstance(result, dict) and "statusCode" in result:
        status = result["statusCode"]
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise InvalidLambdaResponseError(f"statusCode must be an HTTP status, got {status!r}")
        headers: list[tuple[str, str]] = []
        raw_headers = result.get("headers") or {}
        if not isinstance(raw_headers, dict):
            raise InvalidLambdaResponseError("headers must be an object")
        headers.extend((str(name), _header_value(value)) for name, value in raw_headers.items())
        for cookie in result.get("cookies") or []:
            headers.append(("Set-Cookie", str(cookie)))
        body = result.get("body")
        if body is None:
            payload = b""
        elif not isinstance(body, str):
            raise InvalidLambdaResponseError("body must be a string")
        elif result.get("isBase64Encoded"):
            try:
                payload = base64.b64decode(body, validate=True)
            except binascii.Error as exc:
                raise InvalidLambdaResponseError("isBase64Encoded body is not base64") from exc
        else:
            payload = body.encode()
        return HttpResponse(status, headers, payload)
    # No statusCode: API Gateway assumes 200, application/json, and the result as the body
    # (a string as is, anything else as its JSON).
    text = result if isinstance(result, str) else json.dumps(result)
    return HttpResponse(200, [("content-type", "application/json")], text.encode())


def _header_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _json_response(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(body).encode())


def error_response(error: CsvProfError, headers: Sequence[tuple[str, str]] = ()) -> HttpResponse:
    """An api-error answer with the registry status of the error's code."""
    response = _json_response(error.http_status or 500, error.as_dict())
    response.headers.extend(headers)
    return response


def payload_too_large(message: str) -> HttpResponse:
    return error_response(PayloadTooLarge(message))


def internal_error() -> HttpResponse:
    # The detail stays in the log, as behind API Gateway's own 500.
    return error_response(InternalError("Internal Server Error"))


def gateway_timeout(seconds: float) -> HttpResponse:
    return error_response(
        GatewayTimeout(f"the function did not answer within the {seconds:g} s integration timeout")
    )


# --- the server --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP API route key, e.g. `GET /datasets/{dataset_id}`."""

    key: str
    method: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, key: str) -> Route:
        method, path = key.split(" ", 1)
        # {name} matches one path segment, as in API Gateway route keys without a greedy `+`.
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
        return cls(key, method, re.compile(regex))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        return self.path_parameters(path) if method == self.method else None

    def path_parameters(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}


def match_route(routes: Sequence[Route], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The route key and path parameters of the first matching route, or None."""
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route.key, params
    return None


def allowed_methods(routes: Sequence[Route], path: str) -> list[str]:
    """The methods the routes have for `path` (empty: no route has the path)."""
    return sorted({route.method for route in routes if route.path_parameters(path) is not None})


class RequestTooLargeError(Exception):
    """The request body exceeds the gateway's payload limit."""


class _Refused(Exception):
    """The gateway answers the request itself; with `close`, the connection ends after the answer."""

    def __init__(self, response: HttpResponse, *, close: bool = False, linger: bool = True) -> None:
        super().__init__(response.status)
        self.response = response
        self.close = close
        self.linger = linger


class LocalGateway(Service):
    """A ThreadingHTTPServer on 127.0.0.1 (free port) that invokes `handler` per request.

    With `credentials` (access key id -> secret access key), every route uses AWS_IAM
    authorization: a request without a valid SigV4 signature for `execute-api` in `region`
    is answered 403 `ACCESS_DENIED` and never reaches the function. Without, routes have
    authorization NONE (the setting a route gets when none is given).

    One sandbox: the function runs one invocation at a time (one handler instance, whose
    Powertools resolver keeps per-invocation state), each on a thread of its own; requests
    that arrive meanwhile wait for it, first come first served. Two clocks, as on AWS:

    * the function timeout (`timeout_s`) starts when the invocation gets the sandbox; when
      it passes, the client gets 500 `INTERNAL_ERROR` (a Lambda function error);
    * the integration timeout (`integration_timeout_s`, 30 s) starts when the request
      arrives and covers the wait for the sandbox too; when it passes, the client gets 504
      `GATEWAY_TIMEOUT`, and an invocation that had not started never runs.

    Either way a late result or exception is discarded (logged, never sent). Python cannot
    kill a thread, so an abandoned handler runs to its end and its side effects (an S3
    write, a queued message) still happen, where Lambda would have stopped the sandbox.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        function_name: str = "csvprof-api",
        timeout_s: float = API_TIMEOUT_S,
        memory_mb: int = API_MEMORY_MB,
        region: str = "us-east-1",
        port: int = 0,
        max_payload_bytes: int = API_GATEWAY_MAX_PAYLOAD_BYTES,
        routes: Sequence[str] | None = None,
        credentials: Mapping[str, str] | None = None,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        integration_timeout_s: float = API_GATEWAY_INTEGRATION_TIMEOUT_S,
    ) -> None:
        self.handler = handler
        self.integration_timeout_s = integration_timeout_s
        self._sandbox = _FifoLock()  # one sandbox, taken in arrival order
        # With routes, requests that match none get the gateway's own 404 (or 405 when the
        # path has other methods), as a deployed API with explicit routes
        # (infra/cloudformation/api.yaml) answers; without, a `$default` catch-all sends
        # every HTTP API method to the function.
        self.routes = [Route.parse(key) for key in routes] if routes is not None else None
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.region = region
        self.max_payload_bytes = max_payload_bytes
        self.read_timeout_s = read_timeout_s
        self.verifier = SigV4Verifier(credentials, region=region) if credentials else None
        self.api_id = uuid.uuid4().hex[:10]
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("gateway not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("gateway already started")
        self._server = _Server(("127.0.0.1", self._port), _request_handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="local-gateway",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def route(self, method: str, path: str) -> tuple[str, dict[str, str] | None]:
        """The route key and path parameters, or `_Refused` with the gateway's 404 or 405."""
        if self.routes is None:
            if method not in HTTP_API_METHODS:
                raise _Refused(_method_not_allowed(method, path, list(HTTP_API_METHODS)))
            return "$default", None
        matched = match_route(self.routes, method, path)
        if matched is not None:
            return matched
        allowed = allowed_methods(self.routes, path)
        if allowed:
            raise _Refused(_method_not_allowed(method, path, allowed))
        raise _Refused(error_response(RouteNotFound(f"no route of the API matches {method} {path}")))

    def authorize(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> Caller | None:
        """The verified caller (None without AWS_IAM), or `_Refused` with 403."""
        if self.verifier is None:
            return None
        try:
            return self.verifier.verify(method=method, target=target, headers=headers, body=body)
        except AccessDenied as denied:
            raise _Refused(error_response(denied)) from denied

    def invoke(self, event: dict[str, Any]) -> HttpResponse:
        """Invoke the function as a synchronous Lambda call and map the result."""
        encoded = json.dumps(event)
        if len(encoded) > LAMBDA_MAX_INVOKE_PAYLOAD_BYTES:
            # Lambda rejects the invoke (RequestTooLargeException); API Gateway answers 413.
            return payload_too_large(
                f"request exceeds the {LAMBDA_MAX_INVOKE_PAYLOAD_BYTES} byte Lambda invoke payload "
                "once base64-encoded; use POST /uploads"
            )
        arrived = time.monotonic()
        context = new_context(
            self.function_name, memory_mb=self.memory_mb, timeout_s=self.timeout_s, region=self.region
        )
        future: Future[Any] = Future()
        started = threading.Event()

        def run() -> None:
            with self._sandbox:
                if not future.set_running_or_notify_cancel():
                    return  # the integration timed out while this waited for the sandbox
                context.start()
                started.set()
                try:
                    # A fresh copy, as the function would deserialize it from the invoke payload.
                    future.set_result(self.handler(json.loads(encoded), context))
                except BaseException as exc:  # noqa: BLE001 - not swallowed: re-raised by future.result()
                    future.set_exception(exc)

        threading.Thread(target=run, name=f"{self.function_name}-invoke", daemon=True).start()
        integration_deadline = arrived + self.integration_timeout_s
        if not started.wait(timeout=max(0.0, integration_deadline - time.monotonic())) and future.cancel():
            log.error(
                "%s: no sandbox within the %s s integration timeout (request %s); never invoked",
                self.function_name,
                self.integration_timeout_s,
                context.aws_request_id,
            )
            return gateway_timeout(self.integration_timeout_s)
        started.wait()  # cancel() failed: it started just now
        function_deadline = context.deadline
        try:
            result = future.result(
                timeout=max(0.0, min(function_deadline, integration_deadline) - time.monotonic())
            )
        except TimeoutError:
            future.add_done_callback(_discard_late(self.function_name, context.aws_request_id))
            if time.monotonic() >= function_deadline:
                # Lambda stops the function and reports a function error: HTTP APIs answer 500.
                log.error(
                    "%s timed out after %s s (request %s); its result will be discarded",
                    self.function_name,
                    self.timeout_s,
                    context.aws_request_id,
                )
                return internal_error()
            log.error(
                "%s: no answer within the %s s integration timeout (request %s); result discarded",
                self.function_name,
                self.integration_timeout_s,
                context.aws_request_id,
            )
            return gateway_timeout(self.integration_timeout_s)
        except Exception:
            # An unhandled function error: Lambda logs it, API Gateway hides it behind a 500.
            log.exception("%s raised (request %s)", self.function_name, context.aws_request_id)
            return internal_error()
        try:
            if len(json.dumps(result)) > LAMBDA_MAX_INVOKE_PAYLOAD_BYTES:
                raise InvalidLambdaResponseError("response exceeds the Lambda payload limit")
            return map_result(result)
        except (InvalidLambdaResponseError, TypeError, ValueError):
            # TypeError/ValueError: not JSON-serializable, which Lambda reports as a function error.
            return internal_error()


def _discard_late(function_name: str, request_id: str) -> Callable[[Future[Any]], None]:
    def discard(future: Future[Any]) -> None:
        outcome = "raised" if future.exception() is not None else "returned"
        log.warning(
            "%s %s after its timeout (request %s): discarded, the client already had its answer",
            function_name,
            outcome,
            request_id,
        )

    return discard


def _method_not_allowed(method: str, path: str, allowed: list[str]) -> HttpResponse:
    methods = ", ".join(allowed)
    return error_response(
        MethodNotAllowed(f"{path} does not accept {method}; it accepts {methods}"), [("Allow", methods)]
    )


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A bug in the gateway (client mistakes are answered, not raised): into the log,
        # not a bare traceback on stderr.
        log.exception("local gateway: unexpected error serving %s", client_address)


_DIGITS = re.compile(r"[0-9]+")


def _request_handler(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class GatewayRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "csvprof-local-gateway"
        # Socket timeout for the request line and headers, and for an idle kept-alive connection.
        timeout = gateway.read_timeout_s

        def handle_one_request(self) -> None:
            # The stdlib's loop, except that every method reaches _handle (which answers the
            # ones an HTTP API has no route for) and a vanished client ends the connection quietly.
            try:
                self.raw_requestline = self.rfile.readline(65537)
                if len(self.raw_requestline) > 65536:
                    self.requestline, self.request_version, self.command = "", "", ""
                    self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                    return
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():
                    return  # send_error answered
                if self.request_version == "HTTP/0.9":
                    self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not supported")
                    return
                self._handle()
                self.wfile.flush()
            except (TimeoutError, ConnectionError):
                # Idle keep-alive connection, headers never completed, or the client left.
                self.close_connection = True

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # parse_request's refusals (request line, version, headers) as api-error bodies.
            phrase = HTTPStatus(code).phrase if code in HTTPStatus._value2member_map_ else "Bad Request"
            self.close_connection = True
            # parse_request leaves HTTP/0.9 (no status line, no headers) until the version parses.
            self.request_version = "HTTP/1.1"
            self._send(error_response(MalformedRequest(f"{phrase}: {message}" if message else phrase)))

        def handle_expect_100(self) -> bool:
            # Refuse a body that cannot be accepted before the client sends it.
            declared = (self.headers.get("Content-Length") or "").strip()
            if _DIGITS.fullmatch(declared) and int(declared) > gateway.max_payload_bytes:
                self.close_connection = True
                self._send(payload_too_large(self._too_large_message()))
                return False
            return super().handle_expect_100()

        def _handle(self) -> None:
            try:
                body = self._read_body()
                route_key, path_parameters = gateway.route(self.command, urlsplit(self.path).path)
                caller = gateway.authorize(self.command, self.path, list(self.headers.items()), body)
            except _Refused as refused:
                self.close_connection = self.close_connection or refused.close
                self._send(refused.response)
                if refused.close and refused.linger:
                    self._linger()
                return
            event = build_event(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                api_id=gateway.api_id,
                route_key=route_key,
                path_parameters=path_parameters,
                caller=caller,
            )
            response = gateway.invoke(event)
            response.headers.append(("apigw-requestid", event["requestContext"]["requestId"]))
            self._send(response)

        # --- the body: framing checked, read against a deadline -------------------------

        def _read_body(self) -> bytes:
            deadline = time.monotonic() + gateway.read_timeout_s
            encodings = self.headers.get_all("Transfer-Encoding") or []
            lengths = self.headers.get_all("Content-Length") or []
            try:
                if encodings:
                    if lengths:
                        raise self._malformed(
                            "a request cannot have both Transfer-Encoding and Content-Length"
                        )
                    if [part.strip().lower() for part in ",".join(encodings).split(",")] != ["chunked"]:
                        raise self._malformed(f"Transfer-Encoding {', '.join(encodings)!r} is not supported")
                    return self._read_chunked(deadline)
                if not lengths:
                    return b""
                values = {value.strip() for value in lengths}
                declared = values.pop()
                if values or not _DIGITS.fullmatch(declared):
                    raise self._malformed(
                        f"Content-Length must be one non-negative integer, got {', '.join(lengths)!r}"
                    )
                length = int(declared)
                if length > gateway.max_payload_bytes:
                    raise _Refused(payload_too_large(self._too_large_message()), close=True)
                return self._read_exact(
                    length,
                    deadline,
                    f"the body ended after {{got}} of the {length} bytes its Content-Length declares",
                )
            except TimeoutError:
                raise _Refused(
                    error_response(
                        MalformedRequest(
                            f"the request body did not arrive within {gateway.read_timeout_s:g} s"
                        )
                    ),
                    close=True,
                    linger=False,  # a timed-out socket cannot be read again
                ) from None
            finally:
                if not self.close_connection:
                    self.connection.settimeout(gateway.read_timeout_s)

        def _read_chunked(self, deadline: float) -> bytes:
            body = bytearray()
            while True:
                line = self._readline(deadline)
                found = _CHUNK_SIZE_LINE.fullmatch(line)
                if found is None:
                    raise self._malformed(f"invalid chunk size line {line[:40]!r}")
                size = int(found[1], 16)
                if size == 0:
                    break
                if len(body) + size > gateway.max_payload_bytes:
                    raise _Refused(payload_too_large(self._too_large_message()), close=True)
                body += self._read_exact(size, deadline, "the chunked body ended inside a chunk")
                if self._readline(deadline) not in (b"\r\n", b"\n"):
                    raise self._malformed("a chunk's data is not followed by CRLF")
            for _ in range(_MAX_TRAILERS):
                if self._readline(deadline) in (b"\r\n", b"\n"):
                    return bytes(body)
            raise self._malformed(f"more than {_MAX_TRAILERS} trailer lines")

        def _read_exact(self, size: int, deadline: float, ended: str) -> bytes:
            buffer = bytearray()
            while len(buffer) < size:
                chunk = self._receive(min(size - len(buffer), _READ_SIZE), deadline)
                if not chunk:
                    raise self._malformed(ended.format(got=len(buffer)))
                buffer += chunk
            return bytes(buffer)

        def _readline(self, deadline: float) -> bytes:
            line = bytearray()
            while not line.endswith(b"\n"):
                if len(line) >= _MAX_CHUNK_LINE:
                    raise self._malformed(f"a chunk line is longer than {_MAX_CHUNK_LINE} bytes")
                byte = self._receive(1, deadline)
                if not byte:
                    raise self._malformed("the chunked body ended before its last chunk")
                line += byte
            return bytes(line)

        def _receive(self, size: int, deadline: float) -> bytes:
            # One socket read at most (read1), each bounded by what is left of the deadline:
            # a client trickling bytes cannot stretch the request past read_timeout_s.
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.connection.settimeout(remaining)
            data: bytes = self.rfile.read1(size)
            return data

        def _malformed(self, message: str) -> _Refused:
            # Where the next request would start is unknown: answer, then close.
            return _Refused(error_response(MalformedRequest(message)), close=True)

        def _too_large_message(self) -> str:
            return f"request body exceeds the API Gateway limit of {gateway.max_payload_bytes} bytes"

        def _linger(self) -> None:
            # Read and drop what the client still sends after the answer, then close: closing
            # with unread data would reset the connection, and the client might lose the answer.
            self.close_connection = True
            deadline = time.monotonic() + LINGER_S
            drained = 0
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
                while drained < LINGER_MAX_BYTES:
                    chunk = self._receive(_READ_SIZE, deadline)
                    if not chunk:
                        return
                    drained += len(chunk)
            except OSError:
                return  # timed out or reset: the client is gone or too slow; close anyway

        def _send(self, response: HttpResponse) -> None:
            self.send_response(response.status)
            for name, value in response.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the handler logs; an access line per request is noise in `csvprof run`

    return GatewayRequestHandler
