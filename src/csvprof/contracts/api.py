"""HTTP API answers: the bodies `contracts/openapi.yaml` and the `api-*` schemas describe.

Errors are `CsvProfError.as_dict()` (`api-error.schema.json`); the profile is `Profile`'s
document as stored; the meta is `Meta.to_dict()`. The rest are built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Meta
from csvprof.contracts.timefmt import format_ts


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PresignedDownload:
    url: str
    expires_at: datetime


def dataset_path(dataset_id: DatasetId) -> str:
    return f"/datasets/{dataset_id}"


def accepted(meta: Meta) -> dict[str, Any]:
    """202, `api-dataset-accepted`: a registered dataset and where to follow it."""
    base = dataset_path(meta.dataset_id)
    links = {"self": base, "profile": f"{base}/profile"}
    return {"dataset_id": meta.dataset_id, "status": meta.status.value, "links": links}


def upload_started(dataset_id: DatasetId, upload: PresignedUpload) -> dict[str, Any]:
    """201, `api-upload-started`: the presigned PUT and the call that registers it."""
    return {
        "dataset_id": dataset_id,
        "upload": {
            "url": upload.url,
            "method": "PUT",
            "headers": upload.headers,
            "expires_at": format_ts(upload.expires_at),
        },
        "links": {"complete": f"/uploads/{dataset_id}/complete"},
    }


def dataset_list(metas: Sequence[Meta], next_token: str | None) -> dict[str, Any]:
    """200, `api-dataset-list`: one page of metas in key order."""
    return {"items": [m.to_dict() for m in metas], "next_token": next_token}


def report_link(download: PresignedDownload) -> dict[str, Any]:
    """200, `api-report-link`: a short-lived presigned GET of the dataset's report.html."""
    return {"url": download.url, "expires_at": format_ts(download.expires_at)}
