"""The event files in tests/events are shaped the way AWS delivers them, and agree with themselves.

A handler test is only as good as its event: these checks fail when a file is edited into
something API Gateway or SQS would never send (a route key that does not match the path,
a query string that disagrees with its parsed form, a wrong body length or MD5).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from csvprof.handlers.api import ROUTES
from csvprof.local.gateway import Route, match_route
from tests.support.events import EVENTS, load_event

HTTP_EVENTS = sorted(p.stem for p in EVENTS.glob("apigw_v2_*.json"))
SQS_EVENTS = sorted(p.stem for p in EVENTS.glob("sqs_*.json"))
_ROUTES = [Route.parse(key) for key in ROUTES]


def md5_of_string_attributes(attributes: dict[str, dict[str, str]]) -> str:
    """SQS's MD5 of message attributes (String values only): name, type, transport 1, value."""
    digest = b""
    for name in sorted(attributes):
        attribute = attributes[name]
        for part in (name.encode(), attribute["dataType"].encode()):
            digest += struct.pack(">I", len(part)) + part
        value = attribute["stringValue"].encode()
        digest += b"\x01" + struct.pack(">I", len(value)) + value
    return hashlib.md5(digest).hexdigest()  # noqa: S324


def test_there_are_events_of_both_kinds_and_no_others() -> None:
    assert len(HTTP_EVENTS) >= len(ROUTES)
    assert len(SQS_EVENTS) >= 5
    assert {p.stem for p in Path(EVENTS).glob("*.json")} == {*HTTP_EVENTS, *SQS_EVENTS}


@pytest.mark.parametrize("name", HTTP_EVENTS)
def test_an_http_event_is_payload_2_0_with_a_consistent_route_path_and_query(name: str) -> None:
    event = load_event(name)
    context = event["requestContext"]
    http = context["http"]
    assert event["version"] == "2.0"
    assert event["rawPath"] == http["path"]
    assert event["routeKey"] == context["routeKey"]
    # The route key and path parameters are the ones API Gateway would pick for this request
    matched = match_route(_ROUTES, http["method"], event["rawPath"])
    if matched is None:
        assert (event["routeKey"], event.get("pathParameters")) == ("$default", None)
    else:
        assert (event["routeKey"], event.get("pathParameters")) == (matched[0], matched[1] or None)
    assert dict(parse_qsl(event["rawQueryString"])) == event.get("queryStringParameters", {})
    # An IAM-authorized request from the account's role, timed consistently
    assert context["authorizer"]["iam"]["accountId"] == context["accountId"]
    assert event["headers"]["host"] == context["domainName"]
    stamp = datetime.strptime(context["time"], "%d/%b/%Y:%H:%M:%S %z")
    assert int(stamp.timestamp()) == context["timeEpoch"] // 1000
    assert http["userAgent"] == event["headers"]["user-agent"]


@pytest.mark.parametrize("name", HTTP_EVENTS)
def test_an_http_event_body_matches_its_length_and_encoding(name: str) -> None:
    event = load_event(name)
    headers = event["headers"]
    if "body" not in event:
        assert event["isBase64Encoded"] is False
        assert headers.get("content-length", "0") == "0"
        return
    body = (
        base64.b64decode(event["body"], validate=True) if event["isBase64Encoded"] else event["body"].encode()
    )
    assert int(headers["content-length"]) == len(body)
    assert "content-type" in headers


@pytest.mark.parametrize("name", SQS_EVENTS)
def test_an_sqs_event_is_one_record_as_the_event_source_mapping_delivers_it(name: str) -> None:
    (record,) = load_event(name)["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324
    assert record["md5OfMessageAttributes"] == md5_of_string_attributes(record["messageAttributes"])
    route = record["messageAttributes"]["route"]["stringValue"]
    assert record["eventSourceARN"].endswith(f":csvprof-work-{route}")
    assert record["eventSourceARN"].split(":")[3] == record["awsRegion"]
    attributes = record["attributes"]
    assert int(attributes["ApproximateReceiveCount"]) >= 1
    assert int(attributes["SentTimestamp"]) <= int(attributes["ApproximateFirstReceiveTimestamp"])
    sent = datetime.fromtimestamp(int(attributes["SentTimestamp"]) / 1000, UTC)
    try:
        body = json.loads(record["body"])
    except json.JSONDecodeError:
        return  # a poison body
    if isinstance(body, dict) and body.get("route") in ("blue", "green"):
        assert body["route"] == route
        enqueued = datetime.fromisoformat(body["enqueued_at"])
        assert abs((sent - enqueued).total_seconds()) < 60
