"""Drift between two profiles: `compare(old, new)` gives a `ProfileDiff` with a verdict for CI."""

from csvprof.diff.compare import (
    SCHEMA_VERSION,
    ColumnDiff,
    Finding,
    ProfileDiff,
    Severity,
    Thresholds,
    compare,
    psi,
)
from csvprof.diff.render import render_text

__all__ = [
    "SCHEMA_VERSION",
    "ColumnDiff",
    "Finding",
    "ProfileDiff",
    "Severity",
    "Thresholds",
    "compare",
    "psi",
    "render_text",
]
