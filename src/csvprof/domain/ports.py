"""The small interfaces the domain needs; adapters in csvprof.adapters implement them.

The profiling engine's port, `ProfileEngine`, is defined beside the engine (csvprof.profiler);
it is not imported here so the API function never loads pyarrow at cold start.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, Protocol

from csvprof.contracts.events import PlatformEvent
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Route

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
class PresignedUpload:
    url: str
    headers: dict[str, str]
    expires_at: datetime


class MetaRepository(Protocol):
    def create(self, meta: Meta) -> str:
        """Write a new meta; raise PreconditionFailed if one exists. Returns the ETag."""
        ...

    def load(self, dataset_id: str) -> Versioned | None: ...

    def replace(self, meta: Meta, etag: str) -> str:
        """Overwrite only if the stored ETag is still `etag`; else PreconditionFailed."""
        ...

    def list(self, limit: int, token: str | None) -> tuple[list[Meta], str | None]: ...


class ArtifactStore(Protocol):
    def put_source(self, dataset_id: str, body: bytes, name: str | None) -> None: ...

    def presign_source_upload(self, dataset_id: str, name: str | None, expires_s: int) -> PresignedUpload: ...

    def source_info(self, dataset_id: str) -> SourceInfo | None: ...

    def open_source(self, dataset_id: str) -> AbstractContextManager[BinaryIO]:
        """A streaming reader of the source; raise SourceMissing if it is gone."""
        ...

    def put_profile(self, dataset_id: str, profile: dict[str, Any]) -> int:
        """Store profile.json; return its size in bytes."""
        ...

    def get_profile(self, dataset_id: str) -> bytes | None: ...


class WorkQueue(Protocol):
    def send(self, route: Route, message: DatasetMessage) -> None: ...


class EventPublisher(Protocol):
    def publish(self, event: PlatformEvent) -> None: ...
