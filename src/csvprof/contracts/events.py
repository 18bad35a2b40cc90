"""Platform event contract: what the worker puts on the EventBridge bus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csvprof.contracts.meta import Meta, Status

SOURCE = "csvprof"
DATASET_PROFILED = "Dataset Profiled"
DATASET_PROFILING_FAILED = "Dataset Profiling Failed"


@dataclass(frozen=True, slots=True)
class PlatformEvent:
    detail_type: str
    detail: dict[str, Any]
    source: str = SOURCE


def completion_event(meta: Meta, summary: dict[str, Any] | None = None) -> PlatformEvent:
    """The event for a terminal meta: `Dataset Profiled` or `Dataset Profiling Failed`."""
    base: dict[str, Any] = {
        "dataset_id": meta.dataset_id,
        "name": meta.name,
        "status": meta.status.value,
        "route": meta.route,
        "attempts": meta.attempts,
        "completed_at": meta.completed_at,
    }
    if meta.status is Status.READY:
        return PlatformEvent(DATASET_PROFILED, {**base, "profile_key": meta.profile_key, **(summary or {})})
    if meta.status is Status.FAILED and meta.error is not None:
        error = {"code": meta.error.code, "message": meta.error.message}
        return PlatformEvent(DATASET_PROFILING_FAILED, {**base, "error": error})
    raise ValueError(f"no completion event for status {meta.status}")
