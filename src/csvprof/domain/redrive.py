"""Redrive use case: move the DLQ's messages back to a work queue once their failure is fixed.

A delivery that failed unexpectedly on every receive parks its dataset (PROCESSING,
`dead_lettered_at`) and leaves its message in the DLQ; a redriven message is delivered
afresh (receive count 1) and its worker re-claims the parked dataset at once, so the dataset
completes with exactly one terminal event. Bodies are moved unchanged: a message names its
dataset, never a queue, so either colour can finish it.

SQS's own move task is preferred when every message goes; otherwise (a limit, or an endpoint
without StartMessageMoveTask) each message is sent to the work queue and only then deleted
from the DLQ, so an interruption can duplicate a message, which the worker skips, but never
lose one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from csvprof.contracts.meta import Route
from csvprof.domain.ports import DeadLetterQueue

log = logging.getLogger(__name__)

# SQS receives at most 10 messages per call.
RECEIVE_BATCH = 10


def live_route(green_weight: int) -> Route:
    """The colour taking most new datasets: green above 50 %, blue otherwise (a tie stays blue)."""
    return "green" if green_weight > 50 else "blue"


@dataclass(frozen=True, slots=True)
class RedriveReport:
    to: Route
    waiting: int  # the DLQ's approximate count before the redrive
    moved: int  # messages moved (for a move task: all that were waiting, moved by SQS)
    by_task: bool = False
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Redrive:
    dlq: DeadLetterQueue

    def run(self, to: Route, *, limit: int | None = None, dry_run: bool = False) -> RedriveReport:
        """Move up to `limit` messages (all when None) from the DLQ to `to`'s work queue."""
        waiting = self.dlq.waiting()
        if dry_run:
            return RedriveReport(to, waiting, 0, dry_run=True)
        if limit is None and self.dlq.move_all(to):
            log.info("SQS moves %d message(s) from the DLQ to %s", waiting, to)
            return RedriveReport(to, waiting, waiting, by_task=True)
        moved = 0
        while limit is None or moved < limit:
            wanted = RECEIVE_BATCH if limit is None else min(RECEIVE_BATCH, limit - moved)
            letters = self.dlq.receive(wanted)
            if not letters:
                break
            for letter in letters:
                self.dlq.forward(to, letter)  # first the copy, then the original: never lost
                self.dlq.delete(letter)
                moved += 1
        return RedriveReport(to, waiting, moved)
