"""Worker use case: claim a dataset, profile it, record READY or FAILED, announce it.

Failures split in two: a data error (the file's fault) ends the dataset FAILED at once;
anything else (an outage, a bug, a broken release) fails the delivery, so the queue delivers
it again after a short, growing delay. If the last receive fails too, the dataset is parked
(PROCESSING, `dead_lettered_at`), not FAILED: its message waits in the DLQ until a redrive
finishes it, or the reconciler ends it once the DLQ no longer holds the message.

Delivery is at-least-once, so every step tolerates repetition:
- a terminal dataset is left alone (its event is re-sent only on a redelivery,
  in case the previous attempt died between the meta write and the event);
- a PROCESSING dataset is re-claimed by a redelivered message (its worker died or failed),
  when its meta is older than the function timeout, or when it is parked (its last receive
  failed and a redrive brought the message back from the DLQ), never by a duplicate that
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
from csvprof.contracts.meta import Meta, Route, Status
from csvprof.contracts.profile import Profile
from csvprof.contracts.timefmt import parse_ts
from csvprof.domain.ports import ArtifactStore, Budget, Clock, EventPublisher, MetaRepository, ProfileEngine
from csvprof.domain.state import update_meta
from csvprof.errors import FileTooLarge, InternalError, ProfilingError, SourceMissing, UnknownDataset
from csvprof.limits import RETRY_BASE_DELAY_S, RETRY_MAX_DELAY_S, WORKER_TIMEOUT_S

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One receive of a queue message, as the queue counts it."""

    message: DatasetMessage
    receive_count: int
    max_receives: int
    # The queue it came from (after a redrive, maybe not the message's route) and the worker's
    # function version: recorded with the claim. None: the message's own route.
    route: Route | None = None
    version: str = "$LATEST"

    @property
    def redelivered(self) -> bool:
        return self.receive_count > 1

    @property
    def last(self) -> bool:
        """The queue moves the message to the DLQ if this receive fails too."""
        return self.receive_count >= self.max_receives

    @property
    def queue_route(self) -> Route:
        return self.route or self.message.route

    def retry_delay_s(self, base_s: float, max_s: float) -> int:
        """How long the message stays hidden after this receive fails: base x 4^(receive - 1), capped."""
        return int(min(base_s * 4 ** max(self.receive_count - 1, 0), max_s))


@dataclass(frozen=True, slots=True)
class Outcome:
    meta: Meta
    # False when this delivery did nothing (duplicate, or the dataset was already terminal).
    processed: bool
    profile: Profile | None = None


class DeliveryFailed(Exception):
    """A delivery failed unexpectedly: the queue must deliver the message again, or dead-letter it.

    `retry_in_s` is how long the message should stay hidden (the handler shortens the queue's
    visibility timeout to it); `parked` is True when this last receive parked the dataset for
    a redrive. The original exception is the __cause__."""

    def __init__(self, delivery: Delivery, retry_in_s: int, *, parked: bool = False) -> None:
        super().__init__(f"delivery {delivery.receive_count} of {delivery.message.dataset_id} failed")
        self.retry_in_s = retry_in_s
        self.parked = parked


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
    # The retry delays after an unexpected failure (see Delivery.retry_delay_s).
    retry_base_s: float = RETRY_BASE_DELAY_S
    retry_max_s: float = RETRY_MAX_DELAY_S
    # The profile as a page (csvprof.report.render), stored beside it as report.html; None: no page.
    render_report: Callable[[Profile], str] | None = None

    def deliver(self, delivery: Delivery, budget: Budget) -> Outcome:
        """Process one delivery; an unexpected failure raises DeliveryFailed for the queue to retry.

        Nothing unexpected ends a dataset FAILED: on the last receive it is parked instead
        (PROCESSING, `dead_lettered_at`), so a broken release leaves its datasets to a redrive
        of the DLQ. A message that names no dataset (UnknownDataset) has nothing to park and
        goes to the DLQ as it is.
        """
        try:
            return self.process(
                delivery.message,
                receive_count=delivery.receive_count,
                budget=budget,
                route=delivery.queue_route,
                version=delivery.version,
            )
        except UnknownDataset:
            raise
        except Exception as exc:
            retry_in_s = delivery.retry_delay_s(self.retry_base_s, self.retry_max_s)
            if not delivery.last:
                log.exception("delivery %d failed; retried in %d s", delivery.receive_count, retry_in_s)
                raise DeliveryFailed(delivery, retry_in_s) from exc
            log.exception("last delivery failed; the dataset waits PROCESSING for a redrive of the DLQ")
            parked = self._park(delivery.message.dataset_id)
            raise DeliveryFailed(delivery, retry_in_s, parked=parked) from exc

    def process(
        self,
        message: DatasetMessage,
        *,
        receive_count: int,
        budget: Budget,
        route: Route | None = None,
        version: str | None = None,
    ) -> Outcome:
        dataset_id = message.dataset_id
        redelivered = receive_count > 1
        route = route or message.route
        claimed = False

        def claim(meta: Meta) -> Meta | None:
            nonlocal claimed
            claimed = False
            if meta.status is Status.UPLOADED:
                claimed = True
                return meta.start(self.now(), route=route, version=version)
            # A parked dataset has no live worker: its last receive ended, so a redrive takes it.
            parked = meta.dead_lettered_at is not None
            if meta.status is Status.PROCESSING and (redelivered or parked or self._stale(meta)):
                claimed = True
                return meta.reclaim(self.now(), route=route, version=version)
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
            if exc.retried:  # not the file's fault: fail the delivery, not the dataset
                raise
            meta, _ = self._finish_failed(dataset_id, exc)
            return Outcome(meta, processed=True)

        self.artifacts.put_profile(profile)
        self._put_report(dataset_id, profile)
        meta = update_meta(
            self.metas, dataset_id, lambda m: None if m.status.terminal else m.ready(self.now())
        )
        self.events.publish(completion_event(meta, profile))
        return Outcome(meta, processed=True, profile=profile)

    def _put_report(self, dataset_id: DatasetId, profile: Profile) -> None:
        """report.html after profile.json. The page is a view of the profile: a renderer that
        fails (a bug, the same on every retry) leaves the dataset READY without one, logged;
        a store that fails is an outage like any other, and the delivery is retried."""
        if self.render_report is None:
            return
        try:
            page = self.render_report(profile)
        except Exception:
            log.exception("the report of dataset %s could not be rendered; READY without one", dataset_id)
            return
        self.artifacts.put_report(dataset_id, page)

    def _stale(self, meta: Meta) -> bool:
        return self.now() - parse_ts(meta.updated_at) > self.stale_after

    def _park(self, dataset_id: DatasetId) -> bool:
        """Mark a PROCESSING dataset as waiting in the DLQ; whether this call wrote.

        Best effort: when the write fails too (S3 is what is down), the dataset is PROCESSING
        without the mark, and the reconciler's ordinary lease applies to it."""
        parked = False

        def decide(meta: Meta) -> Meta | None:
            nonlocal parked
            parked = meta.status is Status.PROCESSING and meta.dead_lettered_at is None
            return meta.park(self.now()) if parked else None

        try:
            update_meta(self.metas, dataset_id, decide)
        except Exception:
            log.exception("could not park dataset %s", dataset_id)
            return False
        return parked

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
        except Exception as exc:  # a bug in the engine: retried like any unexpected failure
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
