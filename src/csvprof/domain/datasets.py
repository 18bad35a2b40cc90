"""API use cases: accept an upload, complete a presigned upload, read meta and profiles."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from csvprof.contracts import keys
from csvprof.contracts.api import PresignedUpload
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.timefmt import format_ts
from csvprof.domain.ports import ArtifactStore, Clock, MetaRepository, WorkQueue
from csvprof.domain.routing import choose_route
from csvprof.errors import (
    DatasetNotFound,
    EmptyBody,
    FileTooLarge,
    InvalidDatasetId,
    InvalidQueryParameter,
    PayloadTooLarge,
    PreconditionFailed,
    ProfileNotReady,
    UnsupportedMediaType,
    UploadNotFound,
)
from csvprof.limits import MAX_DIRECT_UPLOAD_BYTES, MAX_SOURCE_BYTES

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
MAX_NAME_LENGTH = 255
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
PRESIGNED_UPLOAD_EXPIRES_S = 900


@dataclass(frozen=True, slots=True)
class DatasetService:
    metas: MetaRepository
    artifacts: ArtifactStore
    queue: WorkQueue
    now: Clock
    # The routing policy's current weight for green (0-100): configuration, read per upload.
    green_weight: Callable[[], int]
    new_id: Callable[[], DatasetId] = keys.new_dataset_id

    # --- writes -----------------------------------------------------------------

    def accept_upload(self, body: bytes, content_type: str | None, name: str | None) -> Meta:
        """A direct upload: store the CSV, create meta UPLOADED, enqueue."""
        check_media_type(content_type)
        name = check_name(name)
        if not body:
            raise EmptyBody("the request body is empty; send the CSV as the body")
        if len(body) > MAX_DIRECT_UPLOAD_BYTES:
            raise PayloadTooLarge(
                f"direct uploads are limited to {MAX_DIRECT_UPLOAD_BYTES} bytes, got {len(body)}; "
                "use POST /uploads for larger files"
            )
        dataset_id = self.new_id()
        self.artifacts.put_source(dataset_id, body, name)
        return self._register(dataset_id, name, len(body))

    def start_upload(self, name: str | None) -> tuple[DatasetId, PresignedUpload]:
        """A large upload: mint an id and a presigned PUT; nothing is registered yet."""
        name = check_name(name)
        dataset_id = self.new_id()
        return dataset_id, self.artifacts.presign_source_upload(dataset_id, name, PRESIGNED_UPLOAD_EXPIRES_S)

    def complete_upload(self, dataset_id: DatasetId) -> Meta:
        """Register a presigned upload once its object exists. Idempotent."""
        existing = self.metas.load(dataset_id)
        if existing is not None:
            if existing.meta.status is Status.UPLOADED:
                # The first call may have died between the meta write and the send; the worker
                # tolerates the duplicate, a dataset stuck UPLOADED would never finish.
                self._enqueue(existing.meta)
            return existing.meta
        info = self.artifacts.source_info(dataset_id)
        if info is None:
            raise UploadNotFound(f"nothing was uploaded for dataset {dataset_id}; PUT the file first")
        if info.size == 0:
            raise EmptyBody("the uploaded object is empty")
        if info.size > MAX_SOURCE_BYTES:
            raise FileTooLarge(f"the source is {info.size} bytes; the limit is {MAX_SOURCE_BYTES}")
        try:
            return self._register(dataset_id, info.name, info.size)
        except PreconditionFailed:
            # A concurrent complete call registered it first: answer with its meta.
            winner = self.metas.load(dataset_id)
            if winner is None:  # pragma: no cover - a created meta does not vanish
                raise
            return winner.meta

    def _register(self, dataset_id: DatasetId, name: str | None, size: int) -> Meta:
        route = choose_route(dataset_id, self.green_weight())
        meta = Meta.new(dataset_id, name=name, route=route, source_bytes=size, now=self.now())
        self.metas.create(meta)
        self._enqueue(meta)
        return meta

    def _enqueue(self, meta: Meta) -> None:
        message = DatasetMessage(meta.dataset_id, meta.route, format_ts(self.now()))
        self.queue.send(meta.route, message)

    # --- reads ------------------------------------------------------------------

    def get_meta(self, dataset_id: DatasetId) -> Meta:
        found = self.metas.load(dataset_id)
        if found is None:
            raise DatasetNotFound(f"no dataset {dataset_id}")
        return found.meta

    def get_profile(self, dataset_id: DatasetId) -> bytes:
        meta = self.get_meta(dataset_id)
        if meta.status is not Status.READY:
            detail = f" ({meta.error.code})" if meta.error else ""
            raise ProfileNotReady(
                f"dataset {dataset_id} is {meta.status}{detail}; the profile exists once READY"
            )
        body = self.artifacts.get_profile(dataset_id)
        if body is None:  # READY promises a profile; a missing one is a bug, not a client mistake
            raise RuntimeError(f"dataset {dataset_id} is READY but its profile is missing")
        return body

    def list_datasets(self, limit: str | None, token: str | None) -> tuple[list[Meta], DatasetId | None]:
        return self.metas.list(parse_limit(limit), parse_token(token))


def check_media_type(content_type: str | None) -> None:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CSV_MEDIA_TYPES:
        allowed = ", ".join(sorted(CSV_MEDIA_TYPES))
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not accepted; use one of {allowed}"
        )


def check_name(name: str | None) -> str | None:
    if name is None or name == "":
        return None
    # Bytes, not characters: the name travels percent-encoded in S3 user metadata (2 KB cap).
    if len(name.encode()) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in name):
        raise InvalidQueryParameter(f"name must be printable and at most {MAX_NAME_LENGTH} bytes of UTF-8")
    return name


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    # fullmatch on ASCII digits: str.isdigit() also accepts "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidQueryParameter(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def parse_token(raw: str | None) -> DatasetId | None:
    """A page token: the last dataset id of the previous page, checked like any id."""
    if not raw:
        return None
    try:
        return keys.parse_dataset_id(raw)
    except InvalidDatasetId as exc:
        raise InvalidQueryParameter("next_token is not a token this API issued") from exc
