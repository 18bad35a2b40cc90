"""Reconciler use case: no dataset is left UPLOADED or PROCESSING for good.

Two holes in the at-least-once pipeline leave a dataset behind without an error anyone sees:
- the API wrote meta UPLOADED but its SQS send failed (the client got a 500): no message
  exists, so nothing will ever claim it. The reconciler sends the message the API would have
  sent, once per run, while the dataset stays UPLOADED for longer than `stale_uploaded_after`;
- a worker died (killed, not failing) on the message's last receive: the message went to the
  DLQ and the meta stays PROCESSING. The reconciler ends it FAILED `LEASE_EXPIRED`, with the
  same write and event as any worker failure (`processing.record_failure`).

The lease of a PROCESSING dataset is when the last delivery that could still touch it is over:

    lease end = updated_at + visibility timeout x (max receives - attempts + 1)

A dataset parked by its last receive (`dead_lettered_at`: an unexpected failure, the message
in the DLQ) waits for a redrive instead: its lease ends when the DLQ can no longer hold the
message, `dead_lettered_at + DLQ retention` (SQS keeps a dead-lettered message for the retention
counted from its first enqueue, so this is never early). Metas that old are past the horizon, so
a second window of the same width, starting at the DLQ retention, is read for them.

`updated_at` is the last claim and `attempts` counts the claims so far. The claiming receive
runs at most one visibility timeout (the function timeout is a sixth of it) before SQS may
deliver the message again, and at most `max receives - attempts` receives remain, each again
hidden for a visibility timeout. Every new claim moves `updated_at` forward, so a live worker
always holds an unexpired lease. A receive that died before its claim makes `attempts`
undercount, which only lengthens the lease; a message redriven from the DLQ after the lease
finds the dataset terminal and stops.

Work per run is bounded: at most `max_examined` meta keys are listed, and only those whose
object was written between `fresh` and `horizon` ago are read (a meta written within the
shortest threshold cannot be stuck yet; one older than the horizon has been looked at by
many earlier runs). The walk starts after `start_after` and wraps around the key space, so a
caller that passes the previous run's `resume_after` covers a large bucket over several runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.timefmt import format_ts, parse_ts
from csvprof.domain.ports import Clock, EventPublisher, MetaHeader, MetaRepository, WorkQueue
from csvprof.domain.processing import record_failure
from csvprof.errors import LeaseExpired
from csvprof.limits import (
    DLQ_RETENTION_S,
    RECONCILE_HORIZON_S,
    RECONCILE_MAX_EXAMINED,
    RECONCILE_STALE_UPLOADED_S,
)

log = logging.getLogger(__name__)

# S3 lists at most 1,000 keys per call.
PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    examined: int  # meta keys listed
    read: int  # metas loaded (old enough to be stuck, young enough to be in the horizon)
    requeued: tuple[DatasetId, ...] = ()
    abandoned: tuple[DatasetId, ...] = ()
    # Datasets this run could not reconcile (an S3 or SQS error); the next run tries again.
    errors: tuple[DatasetId, ...] = ()
    # Where the next run should continue; None when this run went once round every meta.
    resume_after: DatasetId | None = None

    @property
    def reconciled(self) -> int:
        return len(self.requeued) + len(self.abandoned)


@dataclass
class _Tally:
    examined: int = 0
    read: int = 0
    last: DatasetId | None = None
    requeued: list[DatasetId] = field(default_factory=list)
    abandoned: list[DatasetId] = field(default_factory=list)
    errors: list[DatasetId] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reconciler:
    metas: MetaRepository
    queue: WorkQueue
    events: EventPublisher
    now: Clock
    visibility_timeout: timedelta
    max_receives: int
    stale_uploaded_after: timedelta = timedelta(seconds=RECONCILE_STALE_UPLOADED_S)
    horizon: timedelta = timedelta(seconds=RECONCILE_HORIZON_S)
    max_examined: int = RECONCILE_MAX_EXAMINED
    dlq_retention: timedelta = timedelta(seconds=DLQ_RETENTION_S)

    def run(self, start_after: DatasetId | None = None) -> ReconcileReport:
        """One sweep: re-enqueue stale UPLOADED datasets, fail PROCESSING ones past their lease."""
        now = self.now()
        tally = _Tally()
        for header in islice(self._walk(start_after), self.max_examined):
            tally.examined += 1
            tally.last = header.dataset_id
            if not self._worth_reading(header, now):
                continue
            tally.read += 1
            try:
                self._reconcile(header.dataset_id, now, tally)
            except Exception:  # one bad dataset must not stop the sweep
                log.exception("could not reconcile dataset %s", header.dataset_id)
                tally.errors.append(header.dataset_id)
        complete = tally.examined < self.max_examined
        return ReconcileReport(
            examined=tally.examined,
            read=tally.read,
            requeued=tuple(tally.requeued),
            abandoned=tuple(tally.abandoned),
            errors=tuple(tally.errors),
            resume_after=None if complete else tally.last,
        )

    def lease_end(self, meta: Meta) -> datetime:
        """When the last delivery that could still work on a PROCESSING meta is over."""
        if meta.dead_lettered_at is not None:  # parked: a redrive may bring the message back until then
            return parse_ts(meta.dead_lettered_at) + self.dlq_retention
        receives_left = max(self.max_receives - meta.attempts, 0) + 1
        return parse_ts(meta.updated_at) + self.visibility_timeout * receives_left

    def _walk(self, start_after: DatasetId | None) -> Iterator[MetaHeader]:
        """Every meta once: the keys after `start_after`, then from the first up to it."""
        yield from self._pages(start_after, until=None)
        if start_after is not None:
            yield from self._pages(None, until=start_after)

    def _pages(self, after: DatasetId | None, until: DatasetId | None) -> Iterator[MetaHeader]:
        while True:
            headers, after = self.metas.scan(PAGE_SIZE, after)
            for header in headers:
                if until is not None and header.dataset_id > until:
                    return
                yield header
            if after is None:
                return

    def _worth_reading(self, header: MetaHeader, now: datetime) -> bool:
        # A meta's object is written after its updated_at is set, so LastModified bounds it:
        # a meta written more recently than either threshold cannot be stale or expired.
        fresh = min(self.stale_uploaded_after, self.visibility_timeout)
        age = now - header.last_modified
        # The second window: parked datasets, whose lease is the DLQ's retention.
        return fresh <= age <= self.horizon or self.dlq_retention <= age <= self.dlq_retention + self.horizon

    def _reconcile(self, dataset_id: DatasetId, now: datetime, tally: _Tally) -> None:
        found = self.metas.load(dataset_id)
        if found is None:
            return
        meta = found.meta
        if meta.status is Status.UPLOADED and now - parse_ts(meta.updated_at) >= self.stale_uploaded_after:
            # The message the API sends; if the first one was only delayed, the worker skips
            # the duplicate (the claim is a conditional write).
            self.queue.send(meta.route, DatasetMessage(meta.dataset_id, meta.route, format_ts(now)))
            log.warning("dataset %s was UPLOADED since %s; enqueued again", dataset_id, meta.updated_at)
            tally.requeued.append(dataset_id)
        elif meta.status is Status.PROCESSING and now >= self.lease_end(meta) and self._abandon(meta, now):
            tally.abandoned.append(dataset_id)

    def _abandon(self, meta: Meta, now: datetime) -> bool:
        waited = "its message left the DLQ unredriven" if meta.dead_lettered_at else "no delivery is left"
        error = LeaseExpired(
            f"still PROCESSING after {meta.attempts} attempt(s); its lease ended at "
            f"{format_ts(self.lease_end(meta))} and {waited} to finish it"
        )

        # Decided again on the version being replaced: a worker that re-claimed or finished
        # the dataset since the read wins, and nothing is overwritten.
        def still_expired(current: Meta) -> bool:
            return current.status is Status.PROCESSING and now >= self.lease_end(current)

        _, changed = record_failure(self.metas, self.events, self.now, meta.dataset_id, error, still_expired)
        if changed:
            log.warning("dataset %s abandoned: %s", meta.dataset_id, error.message)
        return changed
