"""ScheduledInvoker: plays an EventBridge schedule rule (`rate(...)`) targeting a function.

Every interval it invokes the handler with the event EventBridge delivers for a scheduled
rule (`"detail-type": "Scheduled Event"`, `"source": "aws.events"`, an empty detail), with
a fresh Lambda context; EventBridge invokes asynchronously, so an error is logged and the
schedule goes on.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from csvprof.limits import RECONCILER_MEMORY_MB, RECONCILER_TIMEOUT_S
from csvprof.local.context import DEFAULT_ACCOUNT_ID, new_context
from csvprof.local.lifecycle import Service

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


def scheduled_event(rule_name: str, *, region: str, at: datetime) -> dict[str, Any]:
    """The event a scheduled EventBridge rule sends its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": DEFAULT_ACCOUNT_ID,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{DEFAULT_ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }


@dataclass
class ScheduleStats:
    invocations: int = 0
    errors: int = 0


class ScheduledInvoker(Service):
    """One thread invoking `handler` every `interval_s` (first run one interval after start)."""

    def __init__(
        self,
        handler: Handler,
        *,
        interval_s: float,
        function_name: str = "csvprof-reconciler",
        rule_name: str = "csvprof-reconcile",
        timeout_s: float = RECONCILER_TIMEOUT_S,
        memory_mb: int = RECONCILER_MEMORY_MB,
        region: str = "us-east-1",
    ) -> None:
        self.handler = handler
        self.interval_s = interval_s
        self.function_name = function_name
        self.rule_name = rule_name
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.region = region
        self.stats = ScheduleStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("schedule already started")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{self.rule_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.invoke_once()

    def invoke_once(self) -> Any:
        """One scheduled invocation; returns the handler's result (None if it raised)."""
        event = scheduled_event(self.rule_name, region=self.region, at=datetime.now(UTC))
        context = new_context(
            self.function_name, memory_mb=self.memory_mb, timeout_s=self.timeout_s, region=self.region
        )
        try:
            return self.handler(event, context)
        except Exception:
            self.stats.errors += 1
            log.exception("%s raised on its schedule", self.function_name)
            return None
        finally:
            self.stats.invocations += 1
