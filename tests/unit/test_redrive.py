"""The redrive use case on an in-memory DLQ: bodies unchanged, copy before delete, limits, dry runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from csvprof.contracts.meta import Route
from csvprof.domain.ports import DeadLetter
from csvprof.domain.redrive import Redrive, live_route


@dataclass
class InMemoryDlq:
    bodies: list[str]
    has_move_task: bool = False
    log: list[str] = field(default_factory=list)
    sent: list[tuple[Route, str]] = field(default_factory=list)

    def waiting(self) -> int:
        return len(self.bodies)

    def move_all(self, route: Route) -> bool:
        if self.has_move_task:
            self.sent.extend((route, body) for body in self.bodies)
            self.bodies.clear()
        return self.has_move_task

    def receive(self, limit: int) -> Sequence[DeadLetter]:
        return [DeadLetter(body, str(i)) for i, body in enumerate(self.bodies[:limit])]

    def forward(self, route: Route, letter: DeadLetter) -> None:
        self.log.append(f"send {letter.body}")
        self.sent.append((route, letter.body))

    def delete(self, letter: DeadLetter) -> None:
        self.log.append(f"delete {letter.body}")
        self.bodies.remove(letter.body)


BODIES = [f'{{"dataset_id": "{i}"}}' for i in range(23)]


def test_every_message_moves_unchanged_each_copied_before_it_is_deleted() -> None:
    dlq = InMemoryDlq(list(BODIES))
    report = Redrive(dlq).run("green")
    assert (report.waiting, report.moved, report.by_task) == (23, 23, False)
    assert dlq.sent == [("green", body) for body in BODIES]
    assert dlq.log[:2] == [f"send {BODIES[0]}", f"delete {BODIES[0]}"]
    assert dlq.bodies == []


def test_the_queues_own_move_task_is_used_when_everything_goes() -> None:
    dlq = InMemoryDlq(list(BODIES), has_move_task=True)
    report = Redrive(dlq).run("blue")
    assert (report.moved, report.by_task) == (23, True)
    assert dlq.log == []


def test_a_limit_moves_at_most_that_many_message_by_message() -> None:
    dlq = InMemoryDlq(list(BODIES), has_move_task=True)
    report = Redrive(dlq).run("blue", limit=12)
    assert (report.moved, report.by_task, len(dlq.bodies)) == (12, False, 11)


def test_a_dry_run_moves_nothing() -> None:
    dlq = InMemoryDlq(list(BODIES))
    report = Redrive(dlq).run("blue", dry_run=True)
    assert (report.waiting, report.moved, report.dry_run) == (23, 0, True)
    assert dlq.sent == []


@pytest.mark.parametrize(("weight", "route"), [(0, "blue"), (50, "blue"), (51, "green"), (100, "green")])
def test_the_live_colour_is_the_one_with_the_higher_weight(weight: int, route: str) -> None:
    assert live_route(weight) == route
