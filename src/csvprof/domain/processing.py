"""Worker use case: claim a dataset, profile it, record READY or FAILED, announce it.

Delivery is at-least-once, so every step tolerates repetition:
- a terminal dataset is left alone (its event is re-sent only on a redelivery,
  in case the previous attempt died between the meta write and the event);
- a PROCESSING dataset is re-claimed by a redelivered message (its worker died: the
  visibility timeout is 6x the function timeout) or when its meta is older than the
  function timeout (a message redriven from the DLQ), never by a duplicate that
  arrives while the first delivery still runs;
- every meta write is conditional (see domain.state), so racing workers cannot
  lose or reverse an update.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from csvprof.contracts.events import completion_event
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.timefmt import parse_ts
from csvprof.domain.ports import ArtifactStore, Clock, EventPublisher, MetaRepository
from csvprof.domain.state import update_meta
from csvprof.errors import FileTooLarge, InternalError, ProfilingError, SourceMissing
from csvprof.limits import WORKER_TIMEOUT_S
from csvprof.profiler.engine import Budget, ProfileEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    meta: Meta
    # False when this delivery did nothing (duplicate, or the dataset was already terminal).
    processed: bool
    profile: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Worker:
    metas: MetaRepository
    artifacts: ArtifactStore
    events: EventPublisher
    engine: ProfileEngine
    now: Clock
    # A PROCESSING meta untouched for longer than the function can run belongs to a dead
    # worker, whatever the receive count says (a message redriven from the DLQ starts at 1).
    stale_after: timedelta = timedelta(seconds=WORKER_TIMEOUT_S)

    def process(self, message: DatasetMessage, *, receive_count: int, budget: Budget) -> Outcome:
        dataset_id = message.dataset_id
        redelivered = receive_count > 1
        claimed = False

        def claim(meta: Meta) -> Meta | None:
            nonlocal claimed
            claimed = False
            if meta.status is Status.UPLOADED:
                claimed = True
                return meta.start(self.now())
            if meta.status is Status.PROCESSING and (redelivered or self._stale(meta)):
                claimed = True
                return meta.reclaim(self.now())
            return None

        meta = update_meta(self.metas, dataset_id, claim)
        if not claimed:
            if meta.status.terminal and redelivered:
                self.events.publish(completion_event(meta))
            log.info("dataset %s is %s; delivery %d skipped", dataset_id, meta.status, receive_count)
            return Outcome(meta, processed=False)

        try:
            profile = self._profile(dataset_id, budget)
        except ProfilingError as exc:
            if isinstance(exc, InternalError):
                log.error("profiling failed with a bug", exc_info=exc)
            return Outcome(self._finish_failed(dataset_id, exc)[0], processed=True)

        self.artifacts.put_profile(dataset_id, profile)
        meta = update_meta(
            self.metas, dataset_id, lambda m: None if m.status.terminal else m.ready(self.now())
        )
        summary = {
            "rows": profile["dataset"]["rows"],
            "columns": profile["dataset"]["columns"],
            "bytes": profile["dataset"]["bytes"],
            "duration_ms": profile["runtime"]["duration_ms"],
        }
        self.events.publish(completion_event(meta, summary))
        return Outcome(meta, processed=True, profile=profile)

    def _stale(self, meta: Meta) -> bool:
        return self.now() - parse_ts(meta.updated_at) > self.stale_after

    def fail(self, dataset_id: str, error: ProfilingError) -> bool:
        """Record FAILED for a dataset whose last delivery is about to end in the DLQ.

        True when this call wrote FAILED; False when the dataset was already terminal."""
        return self._finish_failed(dataset_id, error)[1]

    def _profile(self, dataset_id: str, budget: Budget) -> dict[str, Any]:
        info = self.artifacts.source_info(dataset_id)
        if info is None:
            raise SourceMissing(f"raw/{dataset_id}/source.csv does not exist")
        if info.size > budget.limits.max_source_bytes:
            raise FileTooLarge(
                f"the source is {info.size} bytes; the limit is {budget.limits.max_source_bytes}"
            )
        try:
            with self.artifacts.open_source(dataset_id) as stream:
                profile = self.engine.profile(stream, size=info.size, budget=budget)
        except ProfilingError:
            raise
        except Exception as exc:  # a bug in the engine: FAILED INTERNAL_ERROR, with the trace logged
            raise InternalError(f"unexpected {type(exc).__name__}: {exc}") from exc
        profile["dataset_id"] = dataset_id
        return profile

    def _finish_failed(self, dataset_id: str, error: ProfilingError) -> tuple[Meta, bool]:
        """Write FAILED unless the dataset is already terminal; (meta, whether this call wrote)."""
        changed = False

        def decide(meta: Meta) -> Meta | None:
            nonlocal changed
            changed = not meta.status.terminal
            if not changed:
                return None
            # A last-attempt failure can strike before the claim: walk the machine's own path.
            started = meta.start(self.now()) if meta.status is Status.UPLOADED else meta
            return started.failed(error.code, error.message, self.now())

        meta = update_meta(self.metas, dataset_id, decide)
        if changed:
            self.events.publish(completion_event(meta))
        return meta, changed
