"""S3 key contract: the only place that formats or parses `raw/`, `meta/`, `profiles/` keys."""

from __future__ import annotations

import re
import uuid

from csvprof.errors import InvalidDatasetId

# A lowercase canonical UUID: what the API mints and the only form it accepts.
DATASET_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_DATASET_ID = re.compile(DATASET_ID_PATTERN)

RAW_PREFIX = "raw/"
META_PREFIX = "meta/"
PROFILES_PREFIX = "profiles/"
_META_KEY = re.compile(r"^meta/(?P<id>[^/]+)\.json$")


def new_dataset_id() -> str:
    return str(uuid.uuid4())


def validate_dataset_id(value: str) -> str:
    """Return the id unchanged, or raise InvalidDatasetId; an invalid id never reaches S3."""
    if not _DATASET_ID.fullmatch(value):
        raise InvalidDatasetId(f"dataset id must be a lowercase canonical UUID, got {value[:64]!r}")
    return value


def raw_key(dataset_id: str) -> str:
    return f"{RAW_PREFIX}{validate_dataset_id(dataset_id)}/source.csv"


def meta_key(dataset_id: str) -> str:
    return f"{META_PREFIX}{validate_dataset_id(dataset_id)}.json"


def profile_key(dataset_id: str) -> str:
    return f"{PROFILES_PREFIX}{validate_dataset_id(dataset_id)}/profile.json"


def dataset_id_from_meta_key(key: str) -> str | None:
    """The dataset id of a `meta/{id}.json` key, or None for anything else under the prefix."""
    match = _META_KEY.fullmatch(key)
    if match is None or not _DATASET_ID.fullmatch(match["id"]):
        return None
    return match["id"]
