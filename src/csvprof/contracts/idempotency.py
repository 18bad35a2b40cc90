"""Idempotency-Key contract: the header's value, what a request is compared by, and the record
stored at `keys.idempotency_key(key_hash)` (`idempotency-record.schema.json`).

The record is written once, with `IfNoneMatch: *`, before anything else of the request, so the
dataset id is fixed before any side effect: a retry of a request that died half-way finishes
that dataset instead of minting a second one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NewType

from csvprof.contracts.keys import DatasetId, parse_dataset_id
from csvprof.contracts.timefmt import format_ts, parse_ts
from csvprof.errors import InvalidHeader

SCHEMA_VERSION = "1"
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Printable ASCII (space to tilde): what every HTTP stack carries unchanged in a header value.
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")
_SHA256 = re.compile(r"[0-9a-f]{64}")

IdempotencyKey = NewType("IdempotencyKey", str)


def parse_idempotency_key(value: str | None) -> IdempotencyKey | None:
    """The header's key (None when absent), or InvalidHeader before any storage call."""
    if value is None:
        return None
    if not _KEY.fullmatch(value):
        raise InvalidHeader(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters; a UUID is a good key"
        )
    return IdempotencyKey(value)


def key_hash(route: str, key: IdempotencyKey) -> str:
    """SHA-256 hex of the route and the key: a key is scoped to its route, and the client's text
    never becomes part of an S3 key name."""
    return hashlib.sha256(f"{route}\n{key}".encode()).hexdigest()


def request_sha256(route: str, fields: dict[str, str | None], body: bytes = b"") -> str:
    """What makes two requests "the same": the route, the fields that shape the result, the body."""
    canonical = json.dumps(
        {"route": route, "fields": fields, "body_sha256": hashlib.sha256(body).hexdigest()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """Which dataset a key created, and the fingerprint of the request that created it."""

    dataset_id: DatasetId
    request_sha256: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "dataset_id": self.dataset_id,
            "request_sha256": self.request_sha256,
            "created_at": format_ts(self.created_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdempotencyRecord:
        if data.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"idempotency record schema_version {data.get('schema_version')!r}")
        digest = str(data["request_sha256"])
        if not _SHA256.fullmatch(digest):
            raise ValueError("request_sha256 is not a SHA-256 hex digest")
        return cls(parse_dataset_id(data["dataset_id"]), digest, parse_ts(data["created_at"]))
