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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from csvprof.contracts.events import completion_event
from csvprof.contracts.keys import DatasetId, raw_key
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import Profile
from csvprof.contracts.timefmt import parse_ts
from csvprof.domain.ports import ArtifactStore, Budget, Clock, EventPublisher, MetaRepository, ProfileEngine
from csvprof.domain.state import update_meta
from csvprof.errors import FileTooLarge, InternalError, ProfilingError, SourceMissing, UnknownDataset
from csvprof.limits import WORKER_TIMEOUT_S

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One receive of a queue message, as the queue counts it."""

    message: DatasetMessage
    receive_count: int
    max_receives: int

    @property
    def redelivered(self) -> bool:
        return self.receive_count > 1

    @property
    def last(self) -> bool:
        """The queue moves the message to the DLQ if this receive fails too."""
        return self.receive_count >= self.max_receives


@dataclass(frozen=True, slots=True)
class Outcome:
    meta: Meta
    # False when this delivery did nothing (duplicate, or the dataset was already terminal).
    processed: bool
    profile: Profile | None = None


class DeliveryFailed(Exception):
    """A delivery failed unexpectedly: the queue must deliver the message again, or dead-letter it.

    `recorded` is the FAILED outcome written because this was the last receive (None otherwise,
    or when the dataset was already terminal). The original exception is the __cause__."""

    def __init__(self, delivery: Delivery, recorded: Outcome | None) -> None:
        super().__init__(f"delivery {delivery.receive_count} of {delivery.message.dataset_id} failed")
        self.recorded = recorded


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

    def deliver(self, delivery: Delivery, budget: Budget) -> Outcome:
        """Process one delivery; an unexpected failure raises DeliveryFailed for the queue to retry.

        On the last receive such a failure first records FAILED INTERNAL_ERROR, so a dataset
        whose message ends in the DLQ is never left UPLOADED or PROCESSING. A message that
        names no dataset (UnknownDataset) has nothing to mark and goes to the DLQ as it is.
        """
        try:
            return self.process(delivery.message, receive_count=delivery.receive_count, budget=budget)
        except UnknownDataset:
            raise
        except Exception as exc:
            recorded = None
            if delivery.last:
                log.exception("last delivery failed; marking the dataset FAILED")
                recorded = self.fail(
                    delivery.message.dataset_id, InternalError(f"{type(exc).__name__}: {exc}")
                )
            raise DeliveryFailed(delivery, recorded if recorded and recorded.processed else None) from exc

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
            meta, _ = self._finish_failed(dataset_id, exc)
            return Outcome(meta, processed=True)

        self.artifacts.put_profile(profile)
        meta = update_meta(
            self.metas, dataset_id, lambda m: None if m.status.terminal else m.ready(self.now())
        )
        self.events.publish(completion_event(meta, profile))
        return Outcome(meta, processed=True, profile=profile)

    def _stale(self, meta: Meta) -> bool:
        return self.now() - parse_ts(meta.updated_at) > self.stale_after

    def fail(self, dataset_id: DatasetId, error: ProfilingError) -> Outcome:
        """Record FAILED for a dataset whose last delivery is about to end in the DLQ.

        `processed` is False when the dataset was already terminal and nothing was written."""
        meta, changed = self._finish_failed(dataset_id, error)
        return Outcome(meta, processed=changed)

    def _profile(self, dataset_id: DatasetId, budget: Budget) -> Profile:
        info = self.artifacts.source_info(dataset_id)
        if info is None:
            raise SourceMissing(f"{raw_key(dataset_id)} does not exist")
        if info.size > budget.limits.max_source_bytes:
            raise FileTooLarge(
                f"the source is {info.size} bytes; the limit is {budget.limits.max_source_bytes}"
            )
        try:
            with self.artifacts.open_source(dataset_id) as stream:
                return self.engine.profile(stream, size=info.size, budget=budget, dataset_id=dataset_id)
        except ProfilingError:
            raise
        except Exception as exc:  # a bug in the engine: FAILED INTERNAL_ERROR, with the trace logged
            raise InternalError(f"unexpected {type(exc).__name__}: {exc}") from exc

    def _finish_failed(self, dataset_id: DatasetId, error: ProfilingError) -> tuple[Meta, bool]:
        return record_failure(self.metas, self.events, self.now, dataset_id, error)


def record_failure(
    metas: MetaRepository,
    events: EventPublisher,
    now: Clock,
    dataset_id: DatasetId,
    error: ProfilingError,
    applies: Callable[[Meta], bool] = lambda meta: True,
) -> tuple[Meta, bool]:
    """Write FAILED and publish its event, unless the dataset is already terminal or `applies`
    rejects the version about to be replaced; (meta, whether this call wrote).

    The worker and the reconciler both end datasets here, so a FAILED dataset always looks
    the same and is announced exactly once by whoever wrote it."""
    changed = False

    def decide(meta: Meta) -> Meta | None:
        nonlocal changed
        changed = not meta.status.terminal and applies(meta)
        if not changed:
            return None
        # A last-attempt failure can strike before the claim: walk the machine's own path.
        started = meta.start(now()) if meta.status is Status.UPLOADED else meta
        return started.failed(error.code, error.message, now())

    meta = update_meta(metas, dataset_id, decide)
    if changed:
        events.publish(completion_event(meta))
    return meta, changed
