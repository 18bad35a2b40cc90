"""S3 key contract: the only place that formats or parses `raw/`, `meta/`, `profiles/`,
`idempotency/` keys.

A `DatasetId` is checked once, where it enters (an HTTP path, a query token, a queue message);
the key functions take the checked value and trust it.
"""

from __future__ import annotations

import re
import uuid
from typing import NewType

from csvprof.errors import InvalidDatasetId

# A lowercase canonical UUID: what the API mints and the only form it accepts.
DATASET_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_DATASET_ID = re.compile(DATASET_ID_PATTERN)

DatasetId = NewType("DatasetId", str)

RAW_PREFIX = "raw/"
META_PREFIX = "meta/"
PROFILES_PREFIX = "profiles/"
IDEMPOTENCY_PREFIX = "idempotency/"
# The SHA-256 (hex) naming an idempotency record: see contracts/idempotency.py.
_KEY_HASH = re.compile(r"^[0-9a-f]{64}$")
_META_KEY = re.compile(r"^meta/(?P<id>[^/]+)\.json$")


def new_dataset_id() -> DatasetId:
    return DatasetId(str(uuid.uuid4()))


def parse_dataset_id(value: str) -> DatasetId:
    """The id as a DatasetId, or InvalidDatasetId: an unchecked id never reaches S3."""
    if not _DATASET_ID.fullmatch(value):
        raise InvalidDatasetId(f"dataset id must be a lowercase canonical UUID, got {value[:64]!r}")
    return DatasetId(value)


def raw_key(dataset_id: DatasetId) -> str:
    return f"{RAW_PREFIX}{dataset_id}/source.csv"


def meta_key(dataset_id: DatasetId) -> str:
    return f"{META_PREFIX}{dataset_id}.json"


def profile_key(dataset_id: DatasetId) -> str:
    return f"{PROFILES_PREFIX}{dataset_id}/profile.json"


def report_key(dataset_id: DatasetId) -> str:
    """`profiles/{id}/report.html`: the profile as a page (csvprof.report), beside profile.json."""
    return f"{PROFILES_PREFIX}{dataset_id}/report.html"


def dataset_id_from_meta_key(key: str) -> DatasetId | None:
    """The dataset id of a `meta/{id}.json` key, or None for anything else under the prefix."""
    match = _META_KEY.fullmatch(key)
    if match is None or not _DATASET_ID.fullmatch(match["id"]):
        return None
    return DatasetId(match["id"])


def idempotency_key(key_hash: str) -> str:
    """`idempotency/{sha256 hex}.json`: the record of one Idempotency-Key on one route."""
    if not _KEY_HASH.fullmatch(key_hash):
        raise ValueError(
            f"an idempotency record is named by a lowercase SHA-256 hex digest, got {key_hash[:80]!r}"
        )
    return f"{IDEMPOTENCY_PREFIX}{key_hash}.json"
