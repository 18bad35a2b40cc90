"""Blue/green routing policy: which work queue a new dataset goes to.

Deterministic per dataset id, so a retried upload of the same id (or a replay in a
test) always lands on the same queue, and the split converges to the weight.
"""

from __future__ import annotations

import hashlib

from csvprof.contracts.meta import Route


def bucket_of(dataset_id: str) -> int:
    """A stable 0-99 bucket for the id (first 8 bytes of SHA-256, mod 100)."""
    digest = hashlib.sha256(dataset_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def choose_route(dataset_id: str, green_weight: int) -> Route:
    """`green` for `green_weight` percent of ids, `blue` for the rest."""
    if not 0 <= green_weight <= 100:
        raise ValueError(f"green_weight must be 0-100, got {green_weight}")
    return "green" if bucket_of(dataset_id) < green_weight else "blue"
