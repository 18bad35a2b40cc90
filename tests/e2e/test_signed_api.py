"""Every route of the local runtime uses AWS_IAM: signed clients pass, the rest get 403 api-error."""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.credentials import Credentials

from csvprof.client import CsvProfApiError, CsvProfClient
from csvprof.errors import DatasetNotFound
from csvprof.local.runtime import LOCAL_API_CREDENTIALS, LocalRuntime
from tests.support.contracts import assert_valid

MISSING = "00000000-0000-4000-8000-000000000000"
WRONG_SECRET = "not-the-secret"  # noqa: S105 - deliberately wrong


def unsigned(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def assert_denied(status: int, body: Any) -> None:
    assert status == 403
    assert_valid("api-error", body)
    assert body["code"] == "ACCESS_DENIED"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/datasets"),
        ("GET", f"/datasets/{MISSING}"),
        ("GET", f"/datasets/{MISSING}/profile"),
        ("POST", "/uploads"),
        ("POST", f"/uploads/{MISSING}/complete"),
    ],
)
def test_every_route_refuses_an_unsigned_request(runtime: LocalRuntime, method: str, path: str) -> None:
    assert_denied(*unsigned(runtime.api_url + path, method, b"" if method == "POST" else None))


def test_an_unsigned_upload_never_becomes_a_dataset(runtime: LocalRuntime) -> None:
    client = CsvProfClient(runtime.api_url)
    before = client.list(limit=100)
    status, body = unsigned(
        f"{runtime.api_url}/datasets?name=x.csv", "POST", b"a\n1\n", {"Content-Type": "text/csv"}
    )
    assert_denied(status, body)
    assert client.list(limit=100) == before


def test_a_garbage_authorization_is_refused(runtime: LocalRuntime) -> None:
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/execute-api/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "X-Amz-Date": "20200101T000000Z",
    }
    assert_denied(*unsigned(f"{runtime.api_url}/datasets", headers=headers))


def test_a_wrong_secret_is_a_typed_access_denied(runtime: LocalRuntime) -> None:
    (key,) = LOCAL_API_CREDENTIALS
    client = CsvProfClient(runtime.api_url, credentials=Credentials(key, WRONG_SECRET))
    with pytest.raises(CsvProfApiError) as raised:
        client.list()
    assert (raised.value.status, raised.value.code) == (403, "ACCESS_DENIED")


def test_a_stale_signature_is_refused(runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: stale)
    with pytest.raises(CsvProfApiError) as raised:
        CsvProfClient(runtime.api_url).list()
    assert raised.value.code == "ACCESS_DENIED"
    assert "expired" in raised.value.message


def test_the_signing_client_walks_every_route(runtime: LocalRuntime, orders_csv: bytes) -> None:
    client = CsvProfClient(runtime.api_url)

    accepted = client.upload(orders_csv, name="orders signed.csv")
    dataset_id = accepted["dataset_id"]
    started = client.start_upload(name="later.csv")
    # Every page, in key order: the session's other tests' datasets share the bucket.
    pages = [client.list(limit=100)]
    while pages[-1]["next_token"]:
        pages.append(client.list(limit=100, token=pages[-1]["next_token"]))

    assert client.meta(dataset_id)["name"] == "orders signed.csv"
    assert started["upload"]["method"] == "PUT"
    assert dataset_id in {item["dataset_id"] for page in pages for item in page["items"]}
    with pytest.raises(CsvProfApiError) as raised:
        client.complete(started["dataset_id"])  # nothing was PUT yet
    assert raised.value.code == "UPLOAD_NOT_FOUND"
    with pytest.raises(CsvProfApiError) as missing:
        client.profile(MISSING)
    assert (missing.value.status, missing.value.error_class) == (404, DatasetNotFound)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_aws_sigv4_as_csvprof_serve_prints_it(runtime: LocalRuntime, orders_csv: bytes) -> None:
    # The line `csvprof serve` prints: curl signs for execute-api with the local key pair.
    ((key, secret),) = LOCAL_API_CREDENTIALS.items()
    region = runtime.gateway.region
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "--aws-sigv4",
            f"aws:amz:{region}:execute-api",
            "--user",
            f"{key}:{secret}",
            "-H",
            "content-type: text/csv",
            "--data-binary",
            "@-",
            f"{runtime.api_url}/datasets?name=curl.csv",
        ],
        input=orders_csv,
        capture_output=True,
        timeout=30,
        check=True,
    )
    accepted = json.loads(done.stdout)
    assert accepted["status"] == "UPLOADED", accepted
    wrong = subprocess.run(
        [
            "curl",
            "-sS",
            "--aws-sigv4",
            f"aws:amz:{region}:execute-api",
            "--user",
            f"{key}:{WRONG_SECRET}",
            f"{runtime.api_url}/datasets",
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert json.loads(wrong.stdout)["code"] == "ACCESS_DENIED"
