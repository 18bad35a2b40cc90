"""CsvProfClient: the csvprof HTTP API over urllib3, every request signed with SigV4.

Every route of the API uses AWS_IAM authorization, so each request is signed with
botocore's `SigV4Auth` for service `execute-api`: with explicit credentials, or those of
the standard AWS credential chain (`boto3.Session().get_credentials()`: environment,
profile, SSO, instance role, ...), refreshed per request when they are temporary.

The same client talks to a deployed API and to the local gateway (`csvprof serve`
prints the key pair and region the local gateway accepts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from csvprof.errors import CsvProfError, registry
from csvprof.limits import MAX_DIRECT_UPLOAD_BYTES

SERVICE = "execute-api"
DEFAULT_TIMEOUT_S = 60.0
# https://{api-id}.execute-api.{region}.amazonaws.com: the URL names the region to sign for.
_EXECUTE_API_HOST = re.compile(r"[a-z0-9]+\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?")
# API Gateway answers its own rejections as {"message": ...} (HTTP APIs cannot customise
# them); these are the registry codes such an answer means.
_GATEWAY_CODES = {
    403: "ACCESS_DENIED",
    404: "ROUTE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    # The integration timeout: answered 504, and by HTTP APIs also as 503 Service Unavailable.
    503: "GATEWAY_TIMEOUT",
    504: "GATEWAY_TIMEOUT",
}
# Blocks of a presigned PUT: small enough for a lively progress, large enough to be cheap.
_UPLOAD_BLOCK = 1 << 20
_QUERY_SAFE = "-_.~"  # RFC 3986 unreserved: what SigV4's canonical query leaves unencoded


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class CsvProfApiError(Exception):
    """An error answer, with its registry `code` (None only for a status the registry has no code for)."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        super().__init__(f"HTTP {status} {code or 'UNKNOWN'}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def error_class(self) -> type[CsvProfError] | None:
        """The `csvprof.errors` class of the code, to `issubclass`-check or re-raise."""
        return registry().get(self.code or "")

    @classmethod
    def from_response(cls, response: ApiResponse) -> CsvProfApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return cls(response.status, body["code"], str(body.get("message", "")))
        message = body.get("message") if isinstance(body, dict) else None
        code = _GATEWAY_CODES.get(response.status, "INTERNAL_ERROR" if response.status >= 500 else None)
        return cls(response.status, code, str(message or response.body[:500].decode(errors="replace")))


class CsvProfClient:
    """One method per route; answers are parsed JSON, errors raise `CsvProfApiError`.

    Thread-safe: one client (one urllib3 pool) can serve many threads. `retries` is urllib3's:
    by default only connection attempts are retried, never a request that may have reached
    the API.
    """

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        region: str | None = None,
        session: boto3.Session | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_connections: int = 10,
        retries: urllib3.Retry | bool | int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._credentials = credentials
        self.region = region or _region_from_url(self.base_url) or self._boto_session().region_name
        if not self.region:
            raise ValueError(
                "no region: pass region=, set AWS_REGION/AWS_DEFAULT_REGION, or use an execute-api URL"
            )
        self.timeout_s = timeout_s
        self._retries = (
            urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0) if retries is None else retries
        )
        self._pool = urllib3.PoolManager(maxsize=max_connections, block=False)

    # --- routes ------------------------------------------------------------------------

    def upload(self, body: bytes, name: str | None = None, content_type: str = "text/csv") -> dict[str, Any]:
        """POST /datasets: a direct upload (up to 4 MiB) → the accepted dataset."""
        query = {"name": name} if name is not None else None
        return self._json("POST", "/datasets", body=body, headers={"Content-Type": content_type}, query=query)

    def start_upload(self, name: str | None = None) -> dict[str, Any]:
        """POST /uploads: a presigned S3 PUT for a file up to 5 GiB."""
        return self._json("POST", "/uploads", query={"name": name} if name is not None else None)

    def complete(self, dataset_id: str) -> dict[str, Any]:
        """POST /uploads/{id}/complete, once the file is PUT to the presigned URL."""
        return self._json("POST", f"/uploads/{quote(dataset_id, safe='')}/complete")

    def meta(self, dataset_id: str) -> dict[str, Any]:
        return self._json("GET", f"/datasets/{quote(dataset_id, safe='')}")

    def profile(self, dataset_id: str) -> dict[str, Any]:
        return self._json("GET", f"/datasets/{quote(dataset_id, safe='')}/profile")

    def list(self, limit: int | None = None, token: str | None = None) -> dict[str, Any]:
        query: dict[str, str] = {}
        if limit is not None:
            query["limit"] = str(limit)
        if token is not None:
            query["next_token"] = token
        return self._json("GET", "/datasets", query=query)

    def upload_file(
        self, source: Path, name: str | None = None, progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """A file of any supported size: direct up to 4 MiB, else presigned PUT and complete.

        `progress` is called with the bytes sent so far while a presigned PUT streams the file."""
        name = source.name if name is None else name
        size = source.stat().st_size
        if size <= MAX_DIRECT_UPLOAD_BYTES:
            return self.upload(source.read_bytes(), name)
        started = self.start_upload(name)
        upload = started["upload"]
        headers = {str(k): str(v) for k, v in (upload.get("headers") or {}).items()}
        # An explicit length: a presigned S3 PUT does not accept chunked encoding.
        headers["Content-Length"] = str(size)
        with source.open("rb") as stream:
            # The presigned URL carries its own (S3) signature: sent as is, not re-signed.
            answer = self._pool.request(
                upload.get("method", "PUT"),
                upload["url"],
                body=stream if progress is None else _counted(stream, progress),
                headers=headers,
                timeout=self.timeout_s,
                retries=False,
                preload_content=True,
            )
        if answer.status >= 300:
            raise CsvProfApiError(answer.status, None, answer.data[:500].decode(errors="replace"))
        return self.complete(started["dataset_id"])

    # --- transport ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> ApiResponse:
        """One signed request; any status is returned, not raised. `path` may carry a query."""
        url = self.base_url + path
        if query:
            encoded = "&".join(
                f"{quote(k, safe=_QUERY_SAFE)}={quote(v, safe=_QUERY_SAFE)}" for k, v in query.items()
            )
            url += ("&" if "?" in path else "?") + encoded
        to_send = dict(headers or {})
        if sign:
            to_send = self.signed_headers(method, url, body, to_send)
        answer = self._pool.request(
            method,
            url,
            body=body or None,
            headers=to_send,
            timeout=self.timeout_s,
            retries=self._retries,
            redirect=False,
            preload_content=True,
        )
        return ApiResponse(answer.status, dict(answer.headers.items()), answer.data)

    def signed_headers(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, str]:
        """`headers` plus X-Amz-Date, Authorization (and X-Amz-Security-Token) for this request."""
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(self._frozen_credentials(), SERVICE, self.region).add_auth(request)
        return {str(name): str(value) for name, value in request.headers.items()}

    def close(self) -> None:
        self._pool.clear()

    def __enter__(self) -> CsvProfClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _json(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self.request(method, path, body=body, headers=headers, query=query)
        if response.status >= 400:
            raise CsvProfApiError.from_response(response)
        parsed: dict[str, Any] = response.json()
        return parsed

    def _frozen_credentials(self) -> Credentials:
        credentials = self._credentials or self._boto_session().get_credentials()
        if credentials is None:
            raise CsvProfApiError(0, "ACCESS_DENIED", "no AWS credentials found to sign the request with")
        # Temporary credentials refresh themselves; freeze one consistent key, secret and token.
        frozen = credentials.get_frozen_credentials()
        if frozen.access_key is None or frozen.secret_key is None:
            raise CsvProfApiError(0, "ACCESS_DENIED", "the AWS credentials found have no key pair")
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)

    def _boto_session(self) -> boto3.Session:
        if self._session is None:
            self._session = boto3.Session()
        return self._session


def _region_from_url(url: str) -> str | None:
    found = _EXECUTE_API_HOST.fullmatch(urlsplit(url).hostname or "")
    return found["region"] if found else None


def _counted(stream: IO[bytes], progress: Callable[[int], None]) -> Iterator[bytes]:
    """The stream's blocks, reporting the bytes read so far (the explicit Content-Length
    keeps urllib3 from chunking an iterable body)."""
    done = 0
    while block := stream.read(_UPLOAD_BLOCK):
        done += len(block)
        progress(done)
        yield block
