"""Platform event contract: what the worker puts on the EventBridge bus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import Profile

SOURCE = "csvprof"
DATASET_PROFILED = "Dataset Profiled"
DATASET_PROFILING_FAILED = "Dataset Profiling Failed"


@dataclass(frozen=True, slots=True)
class PlatformEvent:
    detail_type: str
    detail: dict[str, Any]
    source: str = SOURCE


def completion_event(meta: Meta, profile: Profile | None = None) -> PlatformEvent:
    """The event for a terminal meta: `Dataset Profiled` or `Dataset Profiling Failed`.

    `profile` is given on the first send, which then carries its summary."""
    base: dict[str, Any] = {
        "dataset_id": meta.dataset_id,
        "name": meta.name,
        "status": meta.status.value,
        "route": meta.route,
        "attempts": meta.attempts,
        "completed_at": meta.completed_at,
    }
    if meta.status is Status.READY:
        return PlatformEvent(DATASET_PROFILED, {**base, "profile_key": meta.profile_key, **_summary(profile)})
    if meta.status is Status.FAILED and meta.error is not None:
        error = {"code": meta.error.code, "message": meta.error.message}
        return PlatformEvent(DATASET_PROFILING_FAILED, {**base, "error": error})
    raise ValueError(f"no completion event for status {meta.status}")


def _summary(profile: Profile | None) -> dict[str, int]:
    if profile is None:
        return {}
    dataset = profile.dataset
    return {
        "rows": dataset.rows,
        "columns": dataset.columns,
        "bytes": dataset.bytes,
        "duration_ms": profile.runtime.duration_ms,
    }
