"""meta.json contract and the dataset status machine.

UPLOADED -> PROCESSING -> READY | FAILED, nothing else. READY and FAILED are
terminal and set completed_at; FAILED also sets error. A redelivered message may
re-claim a PROCESSING dataset (attempt + 1) without changing its status: that is
how a worker that died mid-run is replaced.

Every claim is also recorded in `claims` (route, worker version, time), so a dataset
handled by a bad release can be traced to it. A PROCESSING dataset whose last receive
failed unexpectedly is `park`ed (`dead_lettered_at`): its message is in the DLQ, and a
redrive re-claims it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from csvprof.contracts import keys
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.timefmt import format_ts
from csvprof.errors import InvalidTransition

Route = Literal["blue", "green"]
SCHEMA_VERSION = "1"


class Status(StrEnum):
    UPLOADED = "UPLOADED"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (Status.READY, Status.FAILED)


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.UPLOADED: frozenset({Status.PROCESSING}),
    Status.PROCESSING: frozenset({Status.READY, Status.FAILED}),
    Status.READY: frozenset(),
    Status.FAILED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Claim:
    """One worker claim: the queue it came from and the worker version that ran it."""

    route: Route
    version: str  # the Lambda function version (the alias's), "$LATEST" unpublished or locally
    claimed_at: str


# Claims kept in meta: the newest ones. A dataset is claimed at most max-receives times per
# message and redrive, so this is only a bound against a runaway redrive loop.
MAX_CLAIMS = 20


@dataclass(frozen=True, slots=True)
class Meta:
    dataset_id: DatasetId
    name: str | None
    status: Status
    route: Route
    source_key: str
    source_bytes: int
    created_at: str
    updated_at: str
    attempts: int = 0
    started_at: str | None = None
    completed_at: str | None = None
    profile_key: str | None = None
    error: ErrorInfo | None = None
    claims: tuple[Claim, ...] = ()
    # Set while PROCESSING when the last receive failed unexpectedly (the message is in the DLQ).
    dead_lettered_at: str | None = None
    schema_version: str = SCHEMA_VERSION

    @classmethod
    def new(
        cls, dataset_id: DatasetId, *, name: str | None, route: Route, source_bytes: int, now: datetime
    ) -> Meta:
        ts = format_ts(now)
        return cls(
            dataset_id=dataset_id,
            name=name,
            status=Status.UPLOADED,
            route=route,
            source_key=keys.raw_key(dataset_id),
            source_bytes=source_bytes,
            created_at=ts,
            updated_at=ts,
        )

    # --- transitions: each returns a new Meta or raises InvalidTransition -------------

    def _moved(self, target: Status, now: datetime, **changes: Any) -> Meta:
        if target not in ALLOWED[self.status]:
            raise InvalidTransition(self.status, target)
        return replace(self, status=target, updated_at=format_ts(now), **changes)

    def start(self, now: datetime, *, route: Route | None = None, version: str | None = None) -> Meta:
        """Claim the dataset; `route` and `version` (a worker's claim) are recorded in `claims`."""
        ts = format_ts(now)
        return self._moved(
            Status.PROCESSING,
            now,
            started_at=ts,
            attempts=self.attempts + 1,
            claims=self._claimed(ts, route, version),
        )

    def reclaim(self, now: datetime, *, route: Route | None = None, version: str | None = None) -> Meta:
        """Take over a PROCESSING dataset whose previous worker died or whose message was redriven."""
        if self.status is not Status.PROCESSING:
            raise InvalidTransition(self.status, Status.PROCESSING)
        ts = format_ts(now)
        return replace(
            self,
            updated_at=ts,
            attempts=self.attempts + 1,
            claims=self._claimed(ts, route, version),
            dead_lettered_at=None,
        )

    def park(self, now: datetime) -> Meta:
        """The last receive failed unexpectedly: stay PROCESSING, waiting for a redrive of the DLQ."""
        if self.status is not Status.PROCESSING:
            raise InvalidTransition(self.status, Status.PROCESSING)
        ts = format_ts(now)
        return replace(self, updated_at=ts, dead_lettered_at=ts)

    def _claimed(self, ts: str, route: Route | None, version: str | None) -> tuple[Claim, ...]:
        if route is None:
            return self.claims
        return (*self.claims, Claim(route, version or "$LATEST", ts))[-MAX_CLAIMS:]

    def ready(self, now: datetime) -> Meta:
        return self._moved(
            Status.READY,
            now,
            completed_at=format_ts(now),
            profile_key=keys.profile_key(self.dataset_id),
            dead_lettered_at=None,
        )

    def failed(self, code: str, message: str, now: datetime) -> Meta:
        return self._moved(Status.FAILED, now, completed_at=format_ts(now), error=ErrorInfo(code, message))

    # --- wire format --------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["status"] = self.status.value
        body["claims"] = [asdict(claim) for claim in self.claims]
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Meta:
        error = body.get("error")
        return cls(
            **{k: v for k, v in body.items() if k not in ("dataset_id", "status", "error", "claims")},
            dataset_id=DatasetId(body["dataset_id"]),  # our own write, under its own key
            status=Status(body["status"]),
            error=ErrorInfo(**error) if error else None,
            # Metas written before claims were recorded have none.
            claims=tuple(Claim(**claim) for claim in body.get("claims") or ()),
        )
