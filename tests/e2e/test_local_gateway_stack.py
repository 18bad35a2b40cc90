"""The local gateway in front of a handler that writes to the embedded moto stack.

The gateway's own behaviour (events, results, limits) is unit-tested without any emulator
in tests/unit/test_local_gateway.py; this checks bytes survive gateway -> handler -> S3.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from csvprof.local.gateway import LocalGateway
from csvprof.local.stack import EmbeddedStack
from tests.support.http import HttpApi


@pytest.fixture
def object_key(stack: EmbeddedStack) -> Iterator[str]:
    """A key of its own in the shared stack's bucket, deleted afterwards."""
    key = f"raw/{uuid.uuid4()}/source.csv"
    yield key
    stack.s3().delete_object(Bucket=stack.settings.bucket, Key=key)


@pytest.fixture
def storing_gateway(stack: EmbeddedStack, object_key: str) -> Iterator[LocalGateway]:
    """A gateway whose handler stores the request body in the stack's bucket, as the API does."""
    s3 = stack.s3()

    def store(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
        s3.put_object(Bucket=stack.settings.bucket, Key=object_key, Body=body)
        return {"statusCode": 202, "body": json.dumps({"bytes": len(body)})}

    gateway = LocalGateway(store).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def test_a_binary_body_reaches_s3_byte_for_byte(
    storing_gateway: LocalGateway, stack: EmbeddedStack, object_key: str
) -> None:
    # When a body with every byte value is posted through the gateway
    payload = bytes(range(256)) * 4
    answer = HttpApi(storing_gateway.url).call("POST", "/datasets", payload)

    # Then the handler saw all of it, and the object in S3 is exactly the request body
    assert answer.status == 202
    assert answer.json() == {"bytes": len(payload)}
    stored = stack.s3().get_object(Bucket=stack.settings.bucket, Key=object_key)["Body"].read()
    assert stored == payload
