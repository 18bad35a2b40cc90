"""Watching alarms and their notifications: transitions are recorded with times and printed."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.e2e_localstack.aws import LocalStack


@dataclass
class AlarmWatch:
    """Polls one alarm's state; every change is kept (and printed) with its time."""

    localstack: LocalStack
    alarm_name: str
    started: float = field(default_factory=time.monotonic)
    transitions: list[tuple[float, str, str]] = field(default_factory=list)
    _last: str | None = None

    def state(self) -> str:
        alarms = self.localstack.cloudwatch().describe_alarms(AlarmNames=[self.alarm_name])["MetricAlarms"]
        assert alarms, f"alarm {self.alarm_name} does not exist"
        state = alarms[0]["StateValue"]
        if state != self._last:
            elapsed = time.monotonic() - self.started
            stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
            reason = alarms[0].get("StateReason", "")
            self.transitions.append((elapsed, state, reason))
            record(
                f"[alarm] {stamp} (+{elapsed:5.1f} s) {self.alarm_name}: {self._last} -> {state} ({reason})"
            )
            self._last = state
        return state

    def wait_for(self, wanted: str, timeout_s: float, poke: Any = None) -> float:
        """Poll until the alarm is `wanted`; `poke()` runs between polls. Returns seconds waited."""
        begun = time.monotonic()
        deadline = begun + timeout_s
        while self.state() != wanted:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.alarm_name} not {wanted} within {timeout_s} s; transitions: {self.transitions}"
                )
            if poke is not None:
                poke()
            time.sleep(0.5)  # polling interval of a deadline-bounded wait
        return time.monotonic() - begun


def notifications(localstack: LocalStack, queue_url: str, alarm_name: str) -> list[dict[str, Any]]:
    """Alarm notifications for `alarm_name` that SNS delivered to the subscribed queue (consumed)."""
    sqs = localstack.sqs()
    found: list[dict[str, Any]] = []
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    for message in answer.get("Messages", []):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        envelope = json.loads(message["Body"])
        alarm = json.loads(envelope["Message"])
        if alarm.get("AlarmName") == alarm_name:
            record(
                f"[sns] {alarm['StateChangeTime']} {alarm_name}: {alarm['OldStateValue']} -> "
                f"{alarm['NewStateValue']} (subject: {envelope.get('Subject')})"
            )
            found.append(alarm)
    return found


def record(line: str) -> None:
    print(line)
    RECORD.append(line)


# Every line printed above, for the session summary (conftest's pytest_terminal_summary):
# pytest captures a passing test's output, and these lines are what the layer is for.
RECORD: list[str] = []
