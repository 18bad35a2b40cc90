"""AWS_IAM on the local gateway: botocore-signed requests pass, everything else is a 403 api-error."""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from csvprof.client import CsvProfApiError, CsvProfClient
from csvprof.errors import AccessDenied
from csvprof.local.gateway import LocalGateway
from csvprof.local.sigv4 import SigV4Verifier
from tests.support.contracts import assert_valid

KEY, SECRET = "AKIDLOCALEXAMPLE", "local-secret"
WRONG_SECRET, SESSION_TOKEN = "wrong", "session-token"
URL = "http://127.0.0.1:8080"


def signed(
    method: str = "POST",
    target: str = "/datasets?name=a%20b.csv",
    body: bytes = b"a,b\n1,2\n",
    *,
    secret: str = SECRET,
    region: str = "us-east-1",
    service: str = "execute-api",
    token: str | None = None,
    extra: dict[str, str] | None = None,
    at: datetime.datetime | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> list[tuple[str, str]]:
    """The headers a botocore-signed request carries, host included (as on the wire)."""
    request = AWSRequest(
        method=method, url=URL + target, data=body, headers={"Content-Type": "text/csv", **(extra or {})}
    )
    if at is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: at)
    SigV4Auth(Credentials(KEY, secret, token), service, region).add_auth(request)
    return [("Host", "127.0.0.1:8080"), *((str(k), str(v)) for k, v in request.headers.items())]


def verifier(**kwargs: Any) -> SigV4Verifier:
    return SigV4Verifier({KEY: SECRET}, region="us-east-1", **kwargs)


def verify(
    headers: list[tuple[str, str]],
    method: str = "POST",
    target: str = "/datasets?name=a%20b.csv",
    body: bytes = b"a,b\n1,2\n",
) -> Any:
    return verifier().verify(method=method, target=target, headers=headers, body=body)


def test_a_botocore_signed_request_verifies_and_names_its_caller() -> None:
    caller = verify(signed())
    assert caller.access_key == KEY
    iam = caller.authorizer()["iam"]
    assert iam["accessKey"] == KEY
    assert iam["accountId"] == "123456789012"
    assert iam["userArn"].startswith("arn:aws:iam::123456789012:")
    assert iam["callerId"] == iam["userId"]


def test_a_signed_session_token_is_accepted() -> None:
    assert verify(signed(token=SESSION_TOKEN)).access_key == KEY


def test_a_signed_payload_hash_header_that_matches_is_accepted() -> None:
    body = b"a,b\n1,2\n"
    assert verify(signed(extra={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}))


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ([("Host", "127.0.0.1:8080")], "not signed"),
        ([("Host", "127.0.0.1:8080"), ("Authorization", "Bearer abc")], "Authorization header"),
        ([("Host", "127.0.0.1:8080"), ("Authorization", "AWS4-HMAC-SHA256 garbage")], "Authorization header"),
    ],
    ids=["unsigned", "bearer", "garbage"],
)
def test_unsigned_or_garbage_authorization_is_denied(headers: list[tuple[str, str]], fragment: str) -> None:
    with pytest.raises(AccessDenied, match=fragment):
        verify(headers)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda: signed(secret=WRONG_SECRET), "signature we calculated does not match"),
        (lambda: signed(region="eu-west-1"), "credential scope"),
        (lambda: signed(service="s3"), "credential scope"),
        (lambda: [(k, v.replace(KEY, "AKIDUNKNOWN")) for k, v in signed()], "security token"),
        (lambda: signed(extra={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}), "payload must be signed"),
    ],
    ids=["wrong-secret", "wrong-region", "wrong-service", "unknown-key", "unsigned-payload"],
)
def test_wrong_keys_scope_or_payload_hash_are_denied(
    change: Callable[[], list[tuple[str, str]]], fragment: str
) -> None:
    with pytest.raises(AccessDenied, match=fragment):
        verify(change())


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("POST", "/datasets?name=other.csv", b"a,b\n1,2\n"),
        ("POST", "/uploads?name=a%20b.csv", b"a,b\n1,2\n"),
        ("PUT", "/datasets?name=a%20b.csv", b"a,b\n1,2\n"),
        ("POST", "/datasets?name=a%20b.csv", b"a,b\n1,3\n"),
    ],
    ids=["query", "path", "method", "body"],
)
def test_a_tampered_request_is_denied(method: str, target: str, body: bytes) -> None:
    with pytest.raises(AccessDenied, match="does not match"):
        verify(signed(), method=method, target=target, body=body)


def test_a_tampered_signed_header_is_denied() -> None:
    headers = [(k, "application/json" if k == "Content-Type" else v) for k, v in signed()]
    with pytest.raises(AccessDenied, match="does not match"):
        verify(headers)


def test_an_unsigned_header_may_be_added() -> None:
    # Proxies and HTTP clients add headers after signing (User-Agent, Content-Length).
    assert verify([*signed(), ("User-Agent", "curl/8"), ("X-Forwarded-For", "10.0.0.1")])


@pytest.mark.parametrize("minutes", [-6, 6])
def test_a_date_more_than_5_minutes_off_is_denied(monkeypatch: pytest.MonkeyPatch, minutes: int) -> None:
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)
    headers = signed(at=at.replace(tzinfo=None), monkeypatch=monkeypatch)
    with pytest.raises(AccessDenied, match="signature expired"):
        verify(headers)


def test_a_date_within_5_minutes_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=4)
    assert verify(signed(at=at.replace(tzinfo=None), monkeypatch=monkeypatch))


def test_the_date_must_be_signed() -> None:
    headers = signed()
    authorization = next(v for k, v in headers if k == "Authorization")
    unsigned_date = authorization.replace(";x-amz-date", "")
    headers = [(k, unsigned_date if k == "Authorization" else v) for k, v in headers]
    with pytest.raises(AccessDenied, match="X-Amz-Date"):
        verify(headers)


def test_host_must_be_signed() -> None:
    # botocore signs host from the URL; a verifier that allowed it unsigned could be replayed elsewhere.
    headers = signed()
    authorization = next(v for k, v in headers if k == "Authorization").replace("host;", "")
    headers = [(k, authorization if k == "Authorization" else v) for k, v in headers]
    with pytest.raises(AccessDenied, match="host"):
        verify(headers)


def test_the_clock_is_the_verifiers() -> None:
    later = verifier(clock=lambda: time.time() + 3600)
    with pytest.raises(AccessDenied, match="expired"):
        later.verify(method="POST", target="/datasets?name=a%20b.csv", headers=signed(), body=b"a,b\n1,2\n")


# --- through the gateway ----------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": "{}"}


@pytest.fixture
def gateway() -> Iterator[tuple[LocalGateway, Recorder]]:
    recorder = Recorder()
    with LocalGateway(
        recorder, credentials={KEY: SECRET}, routes=["POST /datasets", "GET /datasets/{id}"]
    ) as started:
        yield started, recorder


def raw(
    url: str, method: str, target: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_signed_request_reaches_the_function_with_the_iam_authorizer(
    gateway: tuple[LocalGateway, Recorder],
) -> None:
    started, recorder = gateway
    client = CsvProfClient(started.url, credentials=Credentials(KEY, SECRET), region="us-east-1")

    assert client.upload(b"a\n1\n", name="x y.csv") == {}

    (event,) = recorder.events
    assert event["routeKey"] == "POST /datasets"
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == KEY
    assert event["queryStringParameters"] == {"name": "x y.csv"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "garbage"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=0"},
    ],
    ids=["unsigned", "garbage", "malformed-sigv4"],
)
def test_unsigned_requests_get_403_api_error_without_invoking(
    gateway: tuple[LocalGateway, Recorder], headers: dict[str, str]
) -> None:
    started, recorder = gateway
    status, body = raw(started.url, "POST", "/datasets", {"Content-Type": "text/csv", **headers}, b"a\n1\n")
    assert status == 403
    assert_valid("api-error", body)
    assert body["code"] == "ACCESS_DENIED"
    assert recorder.events == []


def test_a_client_with_the_wrong_secret_gets_a_typed_access_denied(
    gateway: tuple[LocalGateway, Recorder],
) -> None:
    started, recorder = gateway
    client = CsvProfClient(started.url, credentials=Credentials(KEY, WRONG_SECRET), region="us-east-1")
    with pytest.raises(CsvProfApiError) as raised:
        client.meta("00000000-0000-4000-8000-000000000000")
    assert (raised.value.status, raised.value.code, raised.value.error_class) == (
        403,
        "ACCESS_DENIED",
        AccessDenied,
    )
    assert recorder.events == []


def test_the_client_signs_with_the_standard_credential_chain(
    gateway: tuple[LocalGateway, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    started, recorder = gateway
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert CsvProfClient(started.url).meta("00000000-0000-4000-8000-000000000000") == {}
    assert recorder.events[0]["requestContext"]["authorizer"]["iam"]["accessKey"] == KEY


def test_the_region_of_an_execute_api_url_is_the_one_signed_for() -> None:
    client = CsvProfClient(
        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", credentials=Credentials(KEY, SECRET)
    )
    assert client.region == "eu-west-1"
