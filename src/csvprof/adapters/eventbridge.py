"""EventBridge adapter: platform events on the csvprof bus."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from csvprof.contracts.events import PlatformEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


class EventPublishFailed(Exception):
    """PutEvents accepted the call but rejected the entry."""


class EventBridgePublisher:
    def __init__(self, events: EventBridgeClient, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def publish(self, event: PlatformEvent) -> None:
        answer = self._events.put_events(
            Entries=[
                {
                    "EventBusName": self._bus,
                    "Source": event.source,
                    "DetailType": event.detail_type,
                    "Detail": json.dumps(event.detail, separators=(",", ":")),
                }
            ]
        )
        # PutEvents reports per-entry failures in a 200 answer; raising lets SQS retry.
        if answer.get("FailedEntryCount", 0):
            raise EventPublishFailed(str(answer["Entries"]))
