"""Alarms fire in LocalStack: ProfilesFailed from forwarded EMF, the DLQ from SQS's own metrics.

Given the deployed observability stack (10 s periods, ProfilesFailed threshold 2), when
datasets fail, the profiles-failed alarm goes ALARM and notifies the SNS topic; when only
good files follow, it returns to OK. A poison message in the DLQ sets dlq-visible to ALARM.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from csvprof.deploy.outputs import alarm_name
from csvprof.deploy.target import DeployedStack
from csvprof.local.emf import EmfForwarder
from tests.e2e_localstack.alarms import AlarmWatch, notifications, record
from tests.e2e_localstack.aws import LocalStack
from tests.e2e_localstack.conftest import ALARM_PERIOD_S
from tests.support.http import HttpApi, wait_for

MALFORMED = b'id,comment\n1,"this quote never closes\n2,ok\n'
GOOD = b"id,amount,city\n1,9.5,Oslo\n2,3.25,Lima\n3,7.0,Pune\n"


def collect(localstack: LocalStack, queue: str, name: str, seen: list[dict[str, Any]], state: str) -> bool:
    seen.extend(notifications(localstack, queue, name))
    return any(n["NewStateValue"] == state for n in seen)


def test_profiles_failed_goes_to_alarm_then_back_to_ok(
    http: HttpApi,
    localstack: LocalStack,
    deployed: DeployedStack,
    forwarder: EmfForwarder,
    alarm_notifications: str,
) -> None:
    name = alarm_name(deployed.name, "profiles-failed")
    watch = AlarmWatch(localstack, name)
    # Given a quiet alarm (no failures in the last period)
    watch.wait_for("OK", timeout_s=6 * ALARM_PERIOD_S)
    forwarded_before = forwarder.forwarded

    # When malformed CSVs keep failing, Then the alarm goes ALARM within a few periods
    def fail_some() -> None:
        for dataset_id in [http.upload(MALFORMED).json()["dataset_id"] for _ in range(3)]:
            meta = http.wait_terminal(dataset_id)
            assert (meta["status"], meta["error"]["code"]) == ("FAILED", "CSV_PARSE_ERROR")

    fail_some()
    assert forwarder.forwarded > forwarded_before, "the worker's EMF reached CloudWatch"
    took = watch.wait_for("ALARM", timeout_s=6 * ALARM_PERIOD_S, poke=fail_some)
    record(f"[alarm] {name} went ALARM {took:.1f} s after failures began")

    # And the alarm action reached the SNS topic's subscriber
    seen: list[dict[str, Any]] = []
    wait_for(
        lambda: collect(localstack, alarm_notifications, name, seen, "ALARM"), 30, what="ALARM notification"
    )

    # When only good files follow, Then it returns to OK once the failing period has passed
    def succeed_one() -> None:
        meta = http.wait_terminal(http.upload(GOOD).json()["dataset_id"])
        assert meta["status"] == "READY", meta.get("error")

    took = watch.wait_for("OK", timeout_s=8 * ALARM_PERIOD_S, poke=succeed_one)
    record(f"[alarm] {name} back to OK {took:.1f} s after the last failure")
    wait_for(lambda: collect(localstack, alarm_notifications, name, seen, "OK"), 30, what="OK notification")
    states = [state for _, state, _ in watch.transitions]
    assert states[-2:] == ["ALARM", "OK"], watch.transitions


@pytest.fixture
def dlq_purged(localstack: LocalStack, deployed: DeployedStack) -> Iterator[str]:
    """The DLQ's URL; emptied afterwards, so later tests see the alarm's quiet state."""
    yield deployed.dlq_url
    localstack.sqs().purge_queue(QueueUrl=deployed.dlq_url)


@pytest.mark.usefixtures("runtime")
def test_poison_message_in_the_dlq_sets_off_the_dlq_alarm(
    localstack: LocalStack, deployed: DeployedStack, dlq_purged: str, alarm_notifications: str
) -> None:
    name = alarm_name(deployed.name, "dlq-visible")
    watch = AlarmWatch(localstack, name)
    sqs = localstack.sqs()
    watch.wait_for("OK", timeout_s=6 * ALARM_PERIOD_S)
    # Given a poison message on the blue queue (no dataset id; the worker fails it 3 times)
    started = time.monotonic()
    sqs.send_message(QueueUrl=deployed.work_queue_urls["blue"], MessageBody="poison: not a queue message")

    def dlq_depth() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=dlq_purged, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    # Then it lands in the DLQ, and the alarm on the DLQ depth goes ALARM
    assert wait_for(dlq_depth, 60, interval_s=0.5, what="poison message in the DLQ") >= 1
    record(f"[dlq] poison message reached the DLQ after {time.monotonic() - started:.1f} s")
    took = watch.wait_for("ALARM", timeout_s=9 * ALARM_PERIOD_S)
    record(f"[alarm] {name} went ALARM {took:.1f} s after the message reached the DLQ")
    assert [state for _, state, _ in watch.transitions][-2:] == ["OK", "ALARM"], watch.transitions
    # And the alarm action reached the topic's subscriber
    seen: list[dict[str, Any]] = []
    wait_for(
        lambda: collect(localstack, alarm_notifications, name, seen, "ALARM"), 30, what="ALARM notification"
    )
    alarmed = [n for n in seen if n["NewStateValue"] == "ALARM"]
    assert {n["AlarmName"] for n in alarmed} == {name}
