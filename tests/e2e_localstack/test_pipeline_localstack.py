"""The pipeline against the deployed stacks: upload -> READY, malformed -> FAILED + event, poison -> DLQ.

Resources come from the stack outputs only; the handlers run in the local runtime against
LocalStack's S3, SQS and EventBridge.
"""

from __future__ import annotations

import json
from typing import Any

from csvprof.contracts import keys
from csvprof.deploy.target import DeployedStack
from csvprof.limits import SQS_MAX_RECEIVE_COUNT
from tests.conftest import EXAMPLES
from tests.e2e_localstack.aws import LocalStack
from tests.e2e_localstack.conftest import receive_all
from tests.support.contracts import assert_valid
from tests.support.http import HttpApi, wait_for


def events_for(localstack: LocalStack, queue: str, dataset_id: str, seen: list[dict[str, Any]]) -> Any:
    seen.extend(receive_all(localstack, queue))
    return [e for e in seen if e["detail"]["dataset_id"] == dataset_id]


def test_upload_reaches_ready_with_profile_and_event(
    http: HttpApi, localstack: LocalStack, deployed: DeployedStack, events_queue: str
) -> None:
    orders = (EXAMPLES / "orders.csv").read_bytes()
    # Given a CSV uploaded through the API handler
    body = http.upload(orders, name="orders.csv").json()
    dataset_id = body["dataset_id"]
    # Then it is READY with a valid profile in the deployed bucket
    meta = http.wait_terminal(dataset_id)
    assert meta["status"] == "READY", meta.get("error")
    assert meta["route"] in ("blue", "green")
    bucket = deployed.settings(green_weight=0).bucket
    s3 = localstack.s3()
    stored = json.loads(s3.get_object(Bucket=bucket, Key=keys.profile_key(dataset_id))["Body"].read())
    assert_valid("profile", stored)
    assert stored["dataset"]["bytes"] == len(orders)
    raw = s3.head_object(Bucket=bucket, Key=keys.raw_key(dataset_id))
    assert raw["ContentLength"] == len(orders)
    # The bucket is versioned and encrypted: the object says so.
    assert raw.get("ServerSideEncryption") == "AES256"
    assert raw.get("VersionId") not in (None, "null")
    # And the Dataset Profiled event went out on the deployed bus
    seen: list[dict[str, Any]] = []
    events = wait_for(lambda: events_for(localstack, events_queue, dataset_id, seen), 20, what="event")
    assert [e["detail-type"] for e in events] == ["Dataset Profiled"]
    assert_valid("event-dataset-profiled", events[0]["detail"])


def test_malformed_csv_fails_with_event(http: HttpApi, localstack: LocalStack, events_queue: str) -> None:
    dataset_id = http.upload(b"\x00\x01\x02\xff\xfe\x00binary\x9c\x00" * 200).json()["dataset_id"]
    meta = http.wait_terminal(dataset_id)
    assert (meta["status"], meta["error"]["code"]) == ("FAILED", "ENCODING_ERROR")
    seen: list[dict[str, Any]] = []
    events = wait_for(lambda: events_for(localstack, events_queue, dataset_id, seen), 20, what="event")
    assert [e["detail-type"] for e in events] == ["Dataset Profiling Failed"]
    assert_valid("event-dataset-profiling-failed", events[0]["detail"])
    assert events[0]["detail"]["error"]["code"] == "ENCODING_ERROR"


def test_both_routes_are_served(http: HttpApi) -> None:
    # The routing parameter holds 50: datasets go to both queues and both pollers finish them.
    routes = set()
    for _ in range(12):
        meta = http.wait_terminal(http.upload(b"a,b\n1,2\n").json()["dataset_id"])
        assert meta["status"] == "READY", meta.get("error")
        routes.add(meta["route"])
    assert routes == {"blue", "green"}


def test_poison_message_lands_in_the_dlq_after_max_receives(
    runtime: Any, localstack: LocalStack, deployed: DeployedStack
) -> None:
    sqs = localstack.sqs()
    marker = f"poison-{keys.new_dataset_id()}"
    sqs.send_message(QueueUrl=deployed.work_queue_urls["green"], MessageBody=marker)

    def in_dlq() -> dict[str, Any] | None:
        answer = sqs.receive_message(
            QueueUrl=deployed.dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for message in answer.get("Messages", []):
            if message["Body"] == marker:
                sqs.delete_message(QueueUrl=deployed.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                return dict(message)
            sqs.change_message_visibility(
                QueueUrl=deployed.dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return None

    message = wait_for(in_dlq, 60, what="poison message in the DLQ")
    # Received by the worker exactly maxReceiveCount times (+1: this receive from the DLQ).
    assert int(message["Attributes"]["ApproximateReceiveCount"]) == SQS_MAX_RECEIVE_COUNT + 1
    green = runtime.pollers["green"].stats
    assert any(o.error or o.failed_ids for o in green.outcomes)
