"""API use cases: accept an upload, complete a presigned upload, read meta and profiles."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from csvprof.contracts import keys
from csvprof.contracts.api import PresignedDownload, PresignedUpload, dataset_path
from csvprof.contracts.idempotency import (
    HEADER,
    IdempotencyKey,
    IdempotencyRecord,
    key_hash,
    parse_idempotency_key,
    request_sha256,
)
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.timefmt import format_ts
from csvprof.domain.ports import ArtifactStore, Clock, IdempotencyStore, MetaRepository, WorkQueue
from csvprof.domain.routing import choose_route
from csvprof.errors import (
    DatasetNotFound,
    EmptyBody,
    FileTooLarge,
    IdempotencyKeyReused,
    InvalidDatasetId,
    InvalidQueryParameter,
    PayloadTooLarge,
    PreconditionFailed,
    ProfileNotReady,
    ReportNotFound,
    UnsupportedMediaType,
    UploadAlreadyCompleted,
    UploadNotFound,
)
from csvprof.limits import MAX_DIRECT_UPLOAD_BYTES, MAX_SOURCE_BYTES

CSV_MEDIA_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
MAX_NAME_LENGTH = 255
# C0, DEL and C1: the spec's name pattern excludes the same range.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
PRESIGNED_UPLOAD_EXPIRES_S = 900
# How long a report link works: long enough to open it, short enough not to be shared for good.
REPORT_LINK_EXPIRES_S = 300
# The operations an Idempotency-Key is scoped to (the HTTP API's route keys).
CREATE_DATASET = "POST /datasets"
START_UPLOAD = "POST /uploads"


@dataclass(frozen=True, slots=True)
class DatasetService:
    metas: MetaRepository
    artifacts: ArtifactStore
    queue: WorkQueue
    now: Clock
    # The routing policy's current weight for green (0-100): configuration, read per upload.
    green_weight: Callable[[], int]
    new_id: Callable[[], DatasetId] = keys.new_dataset_id
    # Where Idempotency-Keys are recorded; a service without one refuses requests that carry a key.
    idempotency: IdempotencyStore | None = None

    # --- writes -----------------------------------------------------------------

    def accept_upload(
        self, body: bytes, content_type: str | None, name: str | None, idempotency_key: str | None = None
    ) -> Meta:
        """A direct upload: store the CSV, create meta UPLOADED, enqueue. With a key, a repeat of
        the same request answers (and finishes, if the first attempt died) the same dataset."""
        media = check_media_type(content_type)
        name = check_name(name)
        key = parse_idempotency_key(idempotency_key)
        if not body:
            raise EmptyBody("the request body is empty; send the CSV as the body")
        if len(body) > MAX_DIRECT_UPLOAD_BYTES:
            raise PayloadTooLarge(
                f"direct uploads are limited to {MAX_DIRECT_UPLOAD_BYTES} bytes, got {len(body)}; "
                "use POST /uploads for larger files"
            )
        if key is None:
            dataset_id = self.new_id()
            self.artifacts.put_source(dataset_id, body, name)
            return self._register(dataset_id, name, len(body))
        fingerprint = request_sha256(CREATE_DATASET, {"media_type": media, "name": name}, body)
        dataset_id = self._claim(CREATE_DATASET, key, fingerprint)
        existing = self._existing(dataset_id)
        if existing is not None:
            return existing
        # The record was claimed but no meta exists: this is the first attempt, a retry of one
        # that died before its meta, or a concurrent twin. Each step tolerates the others' writes.
        try:
            self.artifacts.put_source(dataset_id, body, name)
        except PreconditionFailed:
            # Written by an attempt with the same key and fingerprint, so the same bytes.
            if self.artifacts.source_info(dataset_id) is None:
                raise
        return self._register_once(dataset_id, name, len(body))

    def start_upload(
        self, name: str | None, idempotency_key: str | None = None
    ) -> tuple[DatasetId, PresignedUpload]:
        """A large upload: mint an id and a presigned PUT; nothing is registered yet. With a key, a
        repeat gets the same id and a fresh URL until the upload is completed."""
        name = check_name(name)
        key = parse_idempotency_key(idempotency_key)
        if key is None:
            dataset_id = self.new_id()
        else:
            dataset_id = self._claim(START_UPLOAD, key, request_sha256(START_UPLOAD, {"name": name}))
            if self.metas.load(dataset_id) is not None:
                # A PUT now would replace the source of a registered dataset under its worker.
                raise UploadAlreadyCompleted(
                    f"the upload this {HEADER} started is already completed: "
                    f"dataset {dataset_id}, see {dataset_path(dataset_id)}"
                )
        return dataset_id, self.artifacts.presign_source_upload(dataset_id, name, PRESIGNED_UPLOAD_EXPIRES_S)

    def complete_upload(self, dataset_id: DatasetId) -> Meta:
        """Register a presigned upload once its object exists. Idempotent."""
        existing = self._existing(dataset_id)
        if existing is not None:
            return existing
        info = self.artifacts.source_info(dataset_id)
        if info is None:
            raise UploadNotFound(f"nothing was uploaded for dataset {dataset_id}; PUT the file first")
        if info.size == 0:
            raise EmptyBody("the uploaded object is empty")
        if info.size > MAX_SOURCE_BYTES:
            raise FileTooLarge(f"the source is {info.size} bytes; the limit is {MAX_SOURCE_BYTES}")
        return self._register_once(dataset_id, info.name, info.size)

    def _claim(self, route: str, key: IdempotencyKey, fingerprint: str) -> DatasetId:
        """The dataset id this key stands for: a new one if this request is the key's first use."""
        if self.idempotency is None:
            raise RuntimeError(f"this DatasetService has no idempotency store for {HEADER}")
        record = IdempotencyRecord(self.new_id(), fingerprint, self.now())
        first = self.idempotency.claim(key_hash(route, key), record)
        if first is None:
            return record.dataset_id
        if first.request_sha256 != fingerprint:
            raise IdempotencyKeyReused(
                f"this {HEADER} was first used with a different request to {route} "
                f"(body, Content-Type or name); use a new key for a new request"
            )
        return first.dataset_id

    def _existing(self, dataset_id: DatasetId) -> Meta | None:
        """The registered dataset, if it is; re-enqueued while UPLOADED."""
        found = self.metas.load(dataset_id)
        if found is None:
            return None
        if found.meta.status is Status.UPLOADED:
            # The first call may have died between the meta write and the send; the worker
            # tolerates the duplicate, a dataset stuck UPLOADED would never finish.
            self._enqueue(found.meta)
        return found.meta

    def _register_once(self, dataset_id: DatasetId, name: str | None, size: int) -> Meta:
        try:
            return self._register(dataset_id, name, size)
        except PreconditionFailed:
            # A concurrent call registered it first: answer with its meta (and send, in case it dies).
            winner = self._existing(dataset_id)
            if winner is None:  # pragma: no cover - a created meta does not vanish
                raise
            return winner

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
        self._ready(dataset_id, "the profile")
        body = self.artifacts.get_profile(dataset_id)
        if body is None:  # READY promises a profile; a missing one is a bug, not a client mistake
            raise RuntimeError(f"dataset {dataset_id} is READY but its profile is missing")
        return body

    def report_link(self, dataset_id: DatasetId) -> PresignedDownload:
        """A short-lived presigned GET of report.html, once READY."""
        self._ready(dataset_id, "the report")
        link = self.artifacts.presign_report(dataset_id, REPORT_LINK_EXPIRES_S)
        if link is None:
            raise ReportNotFound(
                f"dataset {dataset_id} has no report (profiled before reports, or its page could not "
                f"be rendered); its profile is at {dataset_path(dataset_id)}/profile"
            )
        return link

    def _ready(self, dataset_id: DatasetId, what: str) -> Meta:
        meta = self.get_meta(dataset_id)
        if meta.status is not Status.READY:
            detail = f" ({meta.error.code})" if meta.error else ""
            raise ProfileNotReady(f"dataset {dataset_id} is {meta.status}{detail}; {what} exists once READY")
        return meta

    def list_datasets(self, limit: str | None, token: str | None) -> tuple[list[Meta], DatasetId | None]:
        return self.metas.list(parse_limit(limit), parse_token(token))


def check_media_type(content_type: str | None) -> str:
    """The request's media type (lowercase, without parameters) if it is a CSV one."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in CSV_MEDIA_TYPES:
        allowed = ", ".join(sorted(CSV_MEDIA_TYPES))
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not accepted; use one of {allowed}"
        )
    return media


def check_name(name: str | None) -> str | None:
    """The client's file name: at most 255 characters (code points, as the spec's maxLength
    counts), none of them a control character; empty means no name. The S3 metadata encoding
    keeps any such name within S3's 2 KB metadata cap (adapters/s3.py)."""
    if name is None or name == "":
        return None
    if len(name) > MAX_NAME_LENGTH or _CONTROL.search(name):
        raise InvalidQueryParameter(
            f"name must be at most {MAX_NAME_LENGTH} characters, without control characters"
        )
    return name


def check_query_names(query: Mapping[str, str], allowed: Collection[str]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise InvalidQueryParameter(f"unknown query parameter {unknown[0]!r}; this route accepts: {accepted}")


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    # fullmatch on ASCII digits: str.isdigit() also accepts "²", which int() refuses.
    if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise InvalidQueryParameter(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)


def parse_token(raw: str | None) -> DatasetId | None:
    """A page token: the last dataset id of the previous page, checked like any id (an empty
    one too: the spec's pattern refuses it, and no page ever issues one)."""
    if raw is None:
        return None
    try:
        return keys.parse_dataset_id(raw)
    except InvalidDatasetId as exc:
        raise InvalidQueryParameter("next_token is not a token this API issued") from exc
