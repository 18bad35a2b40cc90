"""meta.json contract and the dataset status machine.

UPLOADED -> PROCESSING -> READY | FAILED, nothing else. READY and FAILED are
terminal and set completed_at; FAILED also sets error. A redelivered message may
re-claim a PROCESSING dataset (attempt + 1) without changing its status: that is
how a worker that died mid-run is replaced.
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

    def start(self, now: datetime) -> Meta:
        ts = format_ts(now)
        return self._moved(Status.PROCESSING, now, started_at=ts, attempts=self.attempts + 1)

    def reclaim(self, now: datetime) -> Meta:
        """Take over a PROCESSING dataset whose previous worker died (a redelivered message)."""
        if self.status is not Status.PROCESSING:
            raise InvalidTransition(self.status, Status.PROCESSING)
        return replace(self, updated_at=format_ts(now), attempts=self.attempts + 1)

    def ready(self, now: datetime) -> Meta:
        return self._moved(
            Status.READY, now, completed_at=format_ts(now), profile_key=keys.profile_key(self.dataset_id)
        )

    def failed(self, code: str, message: str, now: datetime) -> Meta:
        return self._moved(Status.FAILED, now, completed_at=format_ts(now), error=ErrorInfo(code, message))

    # --- wire format --------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["status"] = self.status.value
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Meta:
        error = body.get("error")
        return cls(
            **{k: v for k, v in body.items() if k not in ("dataset_id", "status", "error")},
            dataset_id=DatasetId(body["dataset_id"]),  # our own write, under its own key
            status=Status(body["status"]),
            error=ErrorInfo(**error) if error else None,
        )
