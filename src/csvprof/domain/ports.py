"""The interfaces the domain owns; adapters (csvprof.adapters) and the profiler implement them.

Nothing here imports an implementation, so the API function never loads pyarrow or the
profiler at cold start, and the domain's tests run on in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from csvprof.contracts.api import PresignedDownload, PresignedUpload
from csvprof.contracts.events import PlatformEvent
from csvprof.contracts.idempotency import IdempotencyRecord
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Route
from csvprof.contracts.profile import Profile
from csvprof.limits import ProfileLimits

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Versioned:
    """A meta and the ETag it was read with: the precondition for the next write."""

    meta: Meta
    etag: str


@dataclass(frozen=True, slots=True)
class SourceInfo:
    size: int
    name: str | None


@dataclass(frozen=True, slots=True)
class MetaHeader:
    """A meta as a listing shows it, without its body: enough to skip it cheaply."""

    dataset_id: DatasetId
    last_modified: datetime


class MetaRepository(Protocol):
    def create(self, meta: Meta) -> str:
        """Write a new meta; raise PreconditionFailed if one exists. Returns the ETag."""
        ...

    def load(self, dataset_id: DatasetId) -> Versioned | None: ...

    def replace(self, meta: Meta, etag: str) -> str:
        """Overwrite only if the stored ETag is still `etag`; else PreconditionFailed."""
        ...

    def list(self, limit: int, after: DatasetId | None) -> tuple[list[Meta], DatasetId | None]:
        """Up to `limit` metas in key order after `after`, and the id to continue after (or None)."""
        ...

    def scan(self, limit: int, after: DatasetId | None) -> tuple[Sequence[MetaHeader], DatasetId | None]:
        """Like `list`, but only each meta's id and last write time: no object is read."""
        ...


class ArtifactStore(Protocol):
    def put_source(self, dataset_id: DatasetId, body: bytes, name: str | None) -> None: ...

    def presign_source_upload(
        self, dataset_id: DatasetId, name: str | None, expires_s: int
    ) -> PresignedUpload: ...

    def source_info(self, dataset_id: DatasetId) -> SourceInfo | None: ...

    def open_source(self, dataset_id: DatasetId) -> AbstractContextManager[BinaryIO]:
        """A streaming reader of the source; raise SourceMissing if it is gone."""
        ...

    def put_profile(self, profile: Profile) -> int:
        """Store profile.json under the profile's dataset id; return its size in bytes."""
        ...

    def get_profile(self, dataset_id: DatasetId) -> bytes | None: ...

    def put_report(self, dataset_id: DatasetId, page: str) -> int:
        """Store report.html (the profile as a page) for the dataset; return its size in bytes."""
        ...

    def presign_report(self, dataset_id: DatasetId, expires_s: int) -> PresignedDownload | None:
        """A presigned GET of the dataset's report.html, or None when there is none."""
        ...


class IdempotencyStore(Protocol):
    def claim(self, key_hash: str, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Store `record` under `key_hash` unless one is there (a conditional create): None when
        this call stored it, else the record that was there first. Never overwrites."""
        ...


class WorkQueue(Protocol):
    def send(self, route: Route, message: DatasetMessage) -> None: ...


class RetryQueue(Protocol):
    def postpone(self, route: Route, receipt: str, delay_s: int) -> None:
        """Show the received message `receipt` again after `delay_s` instead of the queue's
        visibility timeout (SQS ChangeMessageVisibility). Best effort: an error is logged, not
        raised, and the queue's own timeout applies."""
        ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message received from the DLQ: its body, untouched, and the handle to delete it with."""

    body: str
    receipt: str


class DeadLetterQueue(Protocol):
    def waiting(self) -> int:
        """About how many messages the DLQ holds (SQS's approximate count)."""
        ...

    def move_all(self, route: Route) -> bool:
        """Ask the queue service to move every message to `route`'s queue itself (SQS
        StartMessageMoveTask); False when the endpoint cannot, and nothing was moved."""
        ...

    def receive(self, limit: int) -> Sequence[DeadLetter]:
        """Up to `limit` (at most 10) messages, hidden from other receivers for a while."""
        ...

    def forward(self, route: Route, letter: DeadLetter) -> None:
        """Send the letter's body, unchanged, to `route`'s work queue."""
        ...

    def delete(self, letter: DeadLetter) -> None: ...


class EventPublisher(Protocol):
    def publish(self, event: PlatformEvent) -> None: ...


@dataclass(frozen=True, slots=True)
class Budget:
    """What one profiling run may spend, and the probes it measures itself with."""

    limits: ProfileLimits
    remaining_s: Callable[[], float]
    rss_mb: Callable[[Sequence[int]], float]  # this process + these worker pids
    clock: Callable[[], float]
    now: Clock
    progress: Callable[[int], None] | None = None


class ProfileEngine(Protocol):
    def profile(
        self, source: BinaryIO, *, size: int | None, budget: Budget, dataset_id: DatasetId | None = None
    ) -> Profile:
        """The profile of a CSV byte stream, or a ProfilingError naming why there is none."""
        ...


# --- the worker rollout's ports (csvprof.domain.rollout) -----------------------------------


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """A work queue's messages: waiting (visible) and received but not yet deleted (in flight)."""

    visible: int
    in_flight: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight


class WeightStore(Protocol):
    """The live green weight (the SSM routing parameter): percent of new datasets sent green."""

    def get(self) -> int: ...

    def set(self, weight: int) -> None: ...


class AlarmReader(Protocol):
    def states(self, route: Route) -> dict[str, str]:
        """The state (OK, ALARM, INSUFFICIENT_DATA) of each alarm that judges `route`, by name."""
        ...


class QueueDepths(Protocol):
    def depth(self, route: Route) -> QueueDepth: ...


class AliasPointer(Protocol):
    """The worker's aliases, one per colour (Lambda UpdateAlias, or the local runtime's point)."""

    def version(self, route: Route) -> str: ...

    def point(self, route: Route, version: str) -> None: ...


class Sleeper(Protocol):
    """Monotonic seconds and a way to wait: the controller's only sense of time."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...
