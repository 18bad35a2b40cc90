"""A `Budget` for tests: a fixed clock and date, all the time in the world, a constant memory reading."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csvprof.domain.ports import Budget
from csvprof.limits import ProfileLimits

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def budget(limits: ProfileLimits | None = None, **overrides: Any) -> Budget:
    """`limits` (default: the service's), and any `Budget` field replaced by `overrides`."""
    fields: dict[str, Any] = {
        "limits": limits if limits is not None else ProfileLimits(),
        "remaining_s": lambda: 1e9,
        "rss_mb": lambda workers: 1.0,
        "clock": lambda: 0.0,
        "now": lambda: NOW,
    }
    return Budget(**(fields | overrides))
