"""Optimistic concurrency for meta: read, decide, conditional write, re-decide on a lost race."""

from __future__ import annotations

from collections.abc import Callable

from csvprof.contracts.keys import DatasetId, meta_key
from csvprof.contracts.meta import Meta
from csvprof.domain.ports import MetaRepository, Versioned
from csvprof.errors import PreconditionFailed, UnknownDataset

# A handful of rounds is plenty: every round that loses means another writer advanced
# the status machine, and it has at most three steps.
MAX_ROUNDS = 8


def update_meta(metas: MetaRepository, dataset_id: DatasetId, decide: Callable[[Meta], Meta | None]) -> Meta:
    """Apply `decide` to the current meta and write the result with IfMatch.

    `decide` returns the new meta, or None to leave it as it is (for example when
    another writer already made the change); it may raise InvalidTransition. On a
    lost race the meta is read again and `decide` runs on the newer version, so no
    update is lost or reversed.
    """
    for _ in range(MAX_ROUNDS):
        current: Versioned | None = metas.load(dataset_id)
        if current is None:
            raise UnknownDataset(dataset_id)
        new = decide(current.meta)
        if new is None:
            return current.meta
        try:
            metas.replace(new, current.etag)
        except PreconditionFailed:
            continue
        return new
    raise PreconditionFailed(f"{meta_key(dataset_id)} kept changing; gave up after {MAX_ROUNDS} rounds")
