"""S3 adapters: meta.json with conditional writes, the raw source, profile.json and report.html,
idempotency records."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

from csvprof.contracts import keys
from csvprof.contracts.api import PresignedDownload, PresignedUpload
from csvprof.contracts.idempotency import IdempotencyRecord
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Meta
from csvprof.contracts.profile import Profile
from csvprof.domain.ports import MetaHeader, SourceInfo, Versioned
from csvprof.errors import PreconditionFailed, SourceMissing

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

JSON = "application/json"
HTML = "text/html; charset=utf-8"
NAME_METADATA = "dataset-name"
# Read the source in 1 MiB pieces: large enough for S3 throughput, small enough to bound memory.
READ_BUFFER = 1024 * 1024


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _is_missing(exc: ClientError) -> bool:
    return _code(exc) in ("NoSuchKey", "404", "NotFound")


def _get_or_none(s3: S3Client, bucket: str, key: str) -> GetObjectOutputTypeDef | None:
    """GetObject, or None when the key does not exist (404; see the ListBucket grant)."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _is_missing(exc):
            return None
        raise


def _is_precondition(exc: ClientError) -> bool:
    # 412 PreconditionFailed for a stale IfMatch or an existing object under IfNoneMatch;
    # 409 ConditionalRequestConflict when two conditional writes overlap.
    return _status(exc) in (409, 412) or _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict")


class S3MetaRepository:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def _put(self, meta: Meta, **condition: str) -> str:
        body = json.dumps(meta.to_dict(), separators=(",", ":")).encode()
        try:
            answer = self._s3.put_object(
                Bucket=self._bucket,
                Key=keys.meta_key(meta.dataset_id),
                Body=body,
                ContentType=JSON,
                **condition,  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if _is_precondition(exc):
                raise PreconditionFailed(f"{keys.meta_key(meta.dataset_id)} changed: {_code(exc)}") from exc
            raise
        return answer["ETag"]

    def create(self, meta: Meta) -> str:
        return self._put(meta, IfNoneMatch="*")

    def replace(self, meta: Meta, etag: str) -> str:
        return self._put(meta, IfMatch=etag)

    def load(self, dataset_id: DatasetId) -> Versioned | None:
        answer = _get_or_none(self._s3, self._bucket, keys.meta_key(dataset_id))
        if answer is None:
            return None
        return Versioned(Meta.from_dict(json.loads(answer["Body"].read())), answer["ETag"])

    def list(self, limit: int, after: DatasetId | None) -> tuple[list[Meta], DatasetId | None]:
        page_args: dict[str, Any] = {"Bucket": self._bucket, "Prefix": keys.META_PREFIX, "MaxKeys": limit}
        if after:
            page_args["StartAfter"] = keys.meta_key(after)
        page = self._s3.list_objects_v2(**page_args)
        metas = []
        for item in page.get("Contents", []):
            dataset_id = keys.dataset_id_from_meta_key(item["Key"])
            found = self.load(dataset_id) if dataset_id else None
            if found is not None:
                metas.append(found.meta)
        last = keys.dataset_id_from_meta_key(page["Contents"][-1]["Key"]) if page.get("Contents") else None
        return metas, last if page.get("IsTruncated") else None

    def scan(self, limit: int, after: DatasetId | None) -> tuple[Sequence[MetaHeader], DatasetId | None]:
        """One ListObjectsV2 page of meta/: ids and LastModified, no GetObject."""
        page_args: dict[str, Any] = {"Bucket": self._bucket, "Prefix": keys.META_PREFIX, "MaxKeys": limit}
        if after:
            page_args["StartAfter"] = keys.meta_key(after)
        page = self._s3.list_objects_v2(**page_args)
        contents = page.get("Contents", [])
        headers = [
            MetaHeader(dataset_id, item["LastModified"])
            for item in contents
            if (dataset_id := keys.dataset_id_from_meta_key(item["Key"])) is not None
        ]
        last = keys.dataset_id_from_meta_key(contents[-1]["Key"]) if contents else None
        return headers, last if page.get("IsTruncated") else None


class _StreamingReader(io.RawIOBase):
    """Adapts botocore's StreamingBody to io.RawIOBase so io.BufferedReader can wrap it."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk: bytes = self._body.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        self._body.close()
        super().close()


class S3IdempotencyStore:
    """`idempotency/{key_hash}.json`, created with IfNoneMatch and never updated."""

    # A 409 (two conditional writes overlapping) can leave nothing readable yet: try again briefly.
    ATTEMPTS = 3

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def claim(self, key_hash: str, record: IdempotencyRecord) -> IdempotencyRecord | None:
        key = keys.idempotency_key(key_hash)
        body = json.dumps(record.to_dict(), separators=(",", ":")).encode()
        for _ in range(self.ATTEMPTS):
            try:
                self._s3.put_object(
                    Bucket=self._bucket, Key=key, Body=body, ContentType=JSON, IfNoneMatch="*"
                )
                return None
            except ClientError as exc:
                if not _is_precondition(exc):
                    raise
            found = _get_or_none(self._s3, self._bucket, key)
            if found is not None:
                return IdempotencyRecord.from_dict(json.loads(found["Body"].read()))
        raise PreconditionFailed(f"{key}: neither created nor readable after {self.ATTEMPTS} attempts")


class S3ArtifactStore:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put_source(self, dataset_id: DatasetId, body: bytes, name: str | None) -> None:
        try:
            self._s3.put_object(
                Bucket=self._bucket,
                Key=keys.raw_key(dataset_id),
                Body=body,
                ContentType="text/csv",
                Metadata=_name_metadata(name),
                IfNoneMatch="*",  # ids are fresh; never overwrite a source
            )
        except ClientError as exc:
            # An earlier attempt of the same idempotent request may have written it: the domain decides.
            if _is_precondition(exc):
                raise PreconditionFailed(f"{keys.raw_key(dataset_id)} exists: {_code(exc)}") from exc
            raise

    def presign_source_upload(
        self, dataset_id: DatasetId, name: str | None, expires_s: int
    ) -> PresignedUpload:
        metadata = _name_metadata(name)
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket,
                "Key": keys.raw_key(dataset_id),
                "ContentType": "text/csv",
                "Metadata": metadata,
            },
            ExpiresIn=expires_s,
        )
        headers = {"Content-Type": "text/csv", **{f"x-amz-meta-{k}": v for k, v in metadata.items()}}
        return PresignedUpload(url, headers, datetime.now(UTC) + timedelta(seconds=expires_s))

    def source_info(self, dataset_id: DatasetId) -> SourceInfo | None:
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=keys.raw_key(dataset_id))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        name = head.get("Metadata", {}).get(NAME_METADATA)
        return SourceInfo(size=head["ContentLength"], name=_name_from_metadata(name) if name else None)

    @contextmanager
    def open_source(self, dataset_id: DatasetId) -> Iterator[BinaryIO]:
        key = keys.raw_key(dataset_id)
        answer = _get_or_none(self._s3, self._bucket, key)
        if answer is None:
            raise SourceMissing(f"{key} does not exist")
        with io.BufferedReader(_StreamingReader(answer["Body"]), buffer_size=READ_BUFFER) as stream:
            yield stream

    def put_profile(self, profile: Profile) -> int:
        if profile.dataset_id is None:
            raise ValueError("a stored profile names its dataset")
        body = json.dumps(profile.to_dict(), separators=(",", ":"), allow_nan=False).encode()
        self._s3.put_object(
            Bucket=self._bucket, Key=keys.profile_key(profile.dataset_id), Body=body, ContentType=JSON
        )
        return len(body)

    def get_profile(self, dataset_id: DatasetId) -> bytes | None:
        answer = _get_or_none(self._s3, self._bucket, keys.profile_key(dataset_id))
        return None if answer is None else answer["Body"].read()

    def put_report(self, dataset_id: DatasetId, page: str) -> int:
        body = page.encode()
        self._s3.put_object(Bucket=self._bucket, Key=keys.report_key(dataset_id), Body=body, ContentType=HTML)
        return len(body)

    def presign_report(self, dataset_id: DatasetId, expires_s: int) -> PresignedDownload | None:
        key = keys.report_key(dataset_id)
        try:  # HeadObject is authorized as s3:GetObject, which the link needs anyway
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise
        url = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key, "ResponseContentType": HTML},
            ExpiresIn=expires_s,
        )
        return PresignedDownload(url, datetime.now(UTC) + timedelta(seconds=expires_s))


# RFC 2047 encoded-word, the form S3 itself uses for non-ASCII metadata values.
_B64_WORD_PREFIX, _B64_WORD_SUFFIX = "=?UTF-8?B?", "?="


def _name_metadata(name: str | None) -> dict[str, str]:
    """S3 user metadata must be ASCII and is capped at 2 KB (keys and values, in bytes): an
    ASCII name is percent-encoded (at most 3 x 255 bytes), any other base64-encoded (255
    characters of up to 4 UTF-8 bytes: at most 1,372 bytes; percent-encoded it would be 3,060)."""
    if not name:
        return {}
    if name.isascii():
        return {NAME_METADATA: quote(name, safe="")}
    encoded = base64.b64encode(name.encode()).decode("ascii")
    return {NAME_METADATA: f"{_B64_WORD_PREFIX}{encoded}{_B64_WORD_SUFFIX}"}


def _name_from_metadata(value: str) -> str:
    # Unambiguous: percent-encoding escapes "=" and "?", so it never starts with the prefix.
    if value.startswith(_B64_WORD_PREFIX) and value.endswith(_B64_WORD_SUFFIX):
        return base64.b64decode(value[len(_B64_WORD_PREFIX) : -len(_B64_WORD_SUFFIX)]).decode()
    return unquote(value)
