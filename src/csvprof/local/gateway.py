"""LocalGateway: plays API Gateway HTTP API (payload format 2.0) in front of a Lambda handler.

Every request becomes the event a `$default` route with a Lambda proxy integration
receives, and the function's result is mapped back with the payload 2.0 rules,
including the quotas a deployed API enforces (10 MB request, 6 MB Lambda invoke,
function timeout), so a local run fails where AWS would.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from csvprof.limits import API_MEMORY_MB, API_TIMEOUT_S, MiB
from csvprof.local.context import DEFAULT_ACCOUNT_ID, new_context
from csvprof.local.lifecycle import Service

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

# API Gateway quota: "Maximum payload size" of an HTTP API request. Not in limits.py
# because the product does not choose it; limits.MAX_DIRECT_UPLOAD_BYTES derives from it.
API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * MiB
# Lambda quota for a synchronous invocation, request and response alike.
LAMBDA_MAX_INVOKE_PAYLOAD_BYTES = 6 * MiB

_INTERNAL_ERROR = {"message": "Internal Server Error"}
_NOT_FOUND = {"message": "Not Found"}


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


def payload_too_large(message: str) -> HttpResponse:
    return _json_response(413, {"code": "PAYLOAD_TOO_LARGE", "message": message})


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
        found = self.pattern.fullmatch(path) if method == self.method else None
        return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}


def match_route(routes: Sequence[Route], method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The route key and path parameters of the first matching route, or None."""
    for route in routes:
        params = route.match(method, path)
        if params is not None:
            return route.key, params
    return None


class RequestTooLargeError(Exception):
    """The request body exceeds the gateway's payload limit."""


class LocalGateway(Service):
    """A ThreadingHTTPServer on 127.0.0.1 (free port) that invokes `handler` per request.

    The handler runs on its own thread so the gateway can answer 500 when the function
    timeout passes; like an abandoned Lambda sandbox, that thread is left to finish.
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
    ) -> None:
        self.handler = handler
        # With routes, requests that match none get API Gateway's own 404, as a deployed API
        # with explicit routes (infra/cloudformation/api.yaml) answers; without, a `$default`
        # catch-all sends everything to the function.
        self.routes = [Route.parse(key) for key in routes] if routes is not None else None
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.region = region
        self.max_payload_bytes = max_payload_bytes
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
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _request_handler(self))
        self._server.daemon_threads = True
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

    def invoke(self, event: dict[str, Any]) -> HttpResponse:
        """Invoke the function as a synchronous Lambda call and map the result."""
        encoded = json.dumps(event)
        if len(encoded) > LAMBDA_MAX_INVOKE_PAYLOAD_BYTES:
            # Lambda rejects the invoke (RequestTooLargeException); API Gateway answers 413.
            return payload_too_large(
                f"request exceeds the {LAMBDA_MAX_INVOKE_PAYLOAD_BYTES} byte Lambda invoke payload "
                "once base64-encoded; use POST /uploads"
            )
        context = new_context(
            self.function_name, memory_mb=self.memory_mb, timeout_s=self.timeout_s, region=self.region
        )
        future: Future[Any] = Future()

        def run() -> None:
            try:
                # A fresh copy, as the function would deserialize it from the invoke payload.
                future.set_result(self.handler(json.loads(encoded), context))
            except BaseException as exc:  # noqa: BLE001 - not swallowed: re-raised by future.result()
                future.set_exception(exc)

        threading.Thread(target=run, name=f"{self.function_name}-invoke", daemon=True).start()
        try:
            result = future.result(timeout=self.timeout_s)
        except TimeoutError:
            # The function timed out (10 s) well inside the integration timeout (30 s): Lambda
            # reports a function error, which an HTTP API answers as a 500. The thread is left to
            # finish; a real sandbox would be stopped, so its late writes are a local-only effect.
            log.error(
                "%s timed out after %s s (request %s)",
                self.function_name,
                self.timeout_s,
                context.aws_request_id,
            )
            return _json_response(500, _INTERNAL_ERROR)
        except Exception:
            # An unhandled function error: Lambda logs it, API Gateway hides it behind a 500.
            log.exception("%s raised (request %s)", self.function_name, context.aws_request_id)
            return _json_response(500, _INTERNAL_ERROR)
        try:
            if len(json.dumps(result)) > LAMBDA_MAX_INVOKE_PAYLOAD_BYTES:
                raise InvalidLambdaResponseError("response exceeds the Lambda payload limit")
            return map_result(result)
        except (InvalidLambdaResponseError, TypeError, ValueError):
            # TypeError/ValueError: not JSON-serializable, which Lambda reports as a function error.
            return _json_response(500, _INTERNAL_ERROR)


def _request_handler(gateway: LocalGateway) -> type[BaseHTTPRequestHandler]:
    class GatewayRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "csvprof-local-gateway"

        def _handle(self) -> None:
            try:
                body = self._read_body()
            except RequestTooLargeError:
                # The body was not read: the connection cannot be reused.
                self.close_connection = True
                self._send(
                    payload_too_large(
                        f"request body exceeds the API Gateway limit of {gateway.max_payload_bytes} bytes"
                    )
                )
                return
            route_key, path_parameters = "$default", None
            if gateway.routes is not None:
                matched = match_route(gateway.routes, self.command, urlsplit(self.path).path)
                if matched is None:
                    self._send(_json_response(404, _NOT_FOUND))
                    return
                route_key, path_parameters = matched
            event = build_event(
                method=self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                api_id=gateway.api_id,
                route_key=route_key,
                path_parameters=path_parameters,
            )
            response = gateway.invoke(event)
            response.headers.append(("apigw-requestid", event["requestContext"]["requestId"]))
            self._send(response)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle  # noqa: N815

        def _read_body(self) -> bytes:
            limit = gateway.max_payload_bytes
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked(limit)
            length = int(self.headers.get("Content-Length") or 0)
            if length > limit:
                raise RequestTooLargeError
            return self.rfile.read(length) if length else b""

        def _read_chunked(self, limit: int) -> bytes:
            parts: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                total += size
                if total > limit:
                    raise RequestTooLargeError
                parts.append(self.rfile.read(size))
                self.rfile.readline()

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
