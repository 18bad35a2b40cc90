"""In-memory implementations of the domain's ports, for unit tests of the pure domain.

They keep the adapters' semantics that matter to the domain (ETag preconditions,
missing objects), and record every call so a test can assert what was never touched.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from csvprof.contracts.api import PresignedDownload, PresignedUpload
from csvprof.contracts.events import PlatformEvent
from csvprof.contracts.idempotency import IdempotencyRecord
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Route
from csvprof.contracts.profile import Profile
from csvprof.domain.ports import MetaHeader, SourceInfo, Versioned
from csvprof.errors import PreconditionFailed, SourceMissing

_etags = itertools.count(1)


@dataclass
class InMemoryMetas:
    stored: dict[str, tuple[Meta, str]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # Each meta's last write time, as S3's LastModified; `clock` stamps create and replace.
    modified: dict[str, datetime] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def create(self, meta: Meta) -> str:
        self.calls.append(f"create {meta.dataset_id}")
        if meta.dataset_id in self.stored:
            raise PreconditionFailed(meta.dataset_id)
        etag = f'"{next(_etags)}"'
        self.stored[meta.dataset_id] = (meta, etag)
        self.modified[meta.dataset_id] = self.clock()
        return etag

    def load(self, dataset_id: DatasetId) -> Versioned | None:
        self.calls.append(f"load {dataset_id}")
        found = self.stored.get(dataset_id)
        return Versioned(*found) if found else None

    def replace(self, meta: Meta, etag: str) -> str:
        self.calls.append(f"replace {meta.dataset_id}")
        current = self.stored.get(meta.dataset_id)
        if current is None or current[1] != etag:
            raise PreconditionFailed(meta.dataset_id)
        new_etag = f'"{next(_etags)}"'
        self.stored[meta.dataset_id] = (meta, new_etag)
        self.modified[meta.dataset_id] = self.clock()
        return new_etag

    def list(self, limit: int, after: DatasetId | None) -> tuple[list[Meta], DatasetId | None]:
        self.calls.append("list")
        ids = sorted(i for i in self.stored if after is None or i > after)
        page = ids[:limit]
        return [self.stored[i][0] for i in page], (page[-1] if len(ids) > limit else None)

    def scan(self, limit: int, after: DatasetId | None) -> tuple[Sequence[MetaHeader], DatasetId | None]:
        self.calls.append("scan")
        ids = sorted(i for i in self.stored if after is None or i > after)
        page = ids[:limit]
        headers = [MetaHeader(DatasetId(i), self.modified[i]) for i in page]
        return headers, (DatasetId(page[-1]) if len(ids) > limit else None)


@dataclass
class InMemoryArtifacts:
    sources: dict[str, tuple[bytes, str | None]] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def put_source(self, dataset_id: DatasetId, body: bytes, name: str | None) -> None:
        self.calls.append(f"put_source {dataset_id}")
        if dataset_id in self.sources:  # the adapter writes with IfNoneMatch: *
            raise PreconditionFailed(dataset_id)
        self.sources[dataset_id] = (body, name)

    def presign_source_upload(
        self, dataset_id: DatasetId, name: str | None, expires_s: int
    ) -> PresignedUpload:
        self.calls.append(f"presign {dataset_id}")
        return PresignedUpload(
            f"https://example.invalid/{dataset_id}", {}, datetime.now(UTC) + timedelta(seconds=expires_s)
        )

    def source_info(self, dataset_id: DatasetId) -> SourceInfo | None:
        self.calls.append(f"source_info {dataset_id}")
        found = self.sources.get(dataset_id)
        return SourceInfo(len(found[0]), found[1]) if found else None

    @contextmanager
    def open_source(self, dataset_id: DatasetId) -> Iterator[BinaryIO]:
        found = self.sources.get(dataset_id)
        if found is None:
            raise SourceMissing(dataset_id)
        yield io.BytesIO(found[0])

    def put_profile(self, profile: Profile) -> int:
        assert profile.dataset_id is not None
        self.calls.append(f"put_profile {profile.dataset_id}")
        self.profiles[profile.dataset_id] = profile
        return 0

    def get_profile(self, dataset_id: DatasetId) -> bytes | None:
        found = self.profiles.get(dataset_id)
        return json.dumps(found.to_dict()).encode() if found is not None else None

    def put_report(self, dataset_id: DatasetId, page: str) -> int:
        self.calls.append(f"put_report {dataset_id}")
        self.reports[dataset_id] = page
        return len(page.encode())

    def presign_report(self, dataset_id: DatasetId, expires_s: int) -> PresignedDownload | None:
        self.calls.append(f"presign_report {dataset_id}")
        if dataset_id not in self.reports:
            return None
        return PresignedDownload(
            f"https://example.invalid/{dataset_id}/report.html",
            datetime.now(UTC) + timedelta(seconds=expires_s),
        )


@dataclass
class InMemoryIdempotency:
    """Idempotency records by key hash; `claim` is the adapter's IfNoneMatch create."""

    records: dict[str, IdempotencyRecord] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def claim(self, key_hash: str, record: IdempotencyRecord) -> IdempotencyRecord | None:
        self.calls.append(f"claim {key_hash}")
        first = self.records.setdefault(key_hash, record)
        return None if first is record else first


@dataclass
class RecordingQueue:
    sent: list[tuple[Route, DatasetMessage]] = field(default_factory=list)
    postponed: list[tuple[Route, str, int]] = field(default_factory=list)

    def send(self, route: Route, message: DatasetMessage) -> None:
        self.sent.append((route, message))

    def postpone(self, route: Route, receipt: str, delay_s: int) -> None:
        self.postponed.append((route, receipt, delay_s))


@dataclass
class RecordingPublisher:
    published: list[PlatformEvent] = field(default_factory=list)

    def publish(self, event: PlatformEvent) -> None:
        self.published.append(event)
