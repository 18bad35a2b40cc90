"""The worker rollout controller's decisions, on fakes: a clock that moves only when the controller
sleeps, alarms and queue depths scripted against that clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from csvprof.contracts.meta import Route
from csvprof.domain.ports import QueueDepth
from csvprof.domain.rollout import Outcome, Rollout, RolloutPlan, RolloutReport, idle_colour, weight_for

PLAN = RolloutPlan("7", steps=(10, 50, 100), bake_s=60, poll_s=10, drain_timeout_s=30)


@dataclass
class FakeClock:
    t: float = 1000.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.t += seconds


@dataclass
class FakeWeight:
    weight: int
    history: list[int] = field(default_factory=list)

    def get(self) -> int:
        return self.weight

    def set(self, weight: int) -> None:
        self.weight = weight
        self.history.append(weight)


@dataclass
class FakeAlarms:
    """`worker-failures-<colour>` goes ALARM when `fires(weight)` says so, read at each poll."""

    weights: FakeWeight
    fires: Callable[[Route, int], bool] = lambda route, weight: False

    def states(self, route: Route) -> dict[str, str]:
        firing = self.fires(route, self.weights.weight)
        return {f"worker-failures-{route}": "ALARM" if firing else "OK"}


@dataclass
class FakeQueues:
    clock: FakeClock
    busy_until: dict[Route, float] = field(default_factory=dict)  # non-empty until this time

    def depth(self, route: Route) -> QueueDepth:
        busy = self.clock.t < self.busy_until.get(route, 0.0)
        return QueueDepth(visible=2 if busy else 0, in_flight=1 if busy else 0)


@dataclass
class FakeAliases:
    versions: dict[Route, str]
    queues: FakeQueues
    pointed: list[tuple[Route, str]] = field(default_factory=list)

    def version(self, route: Route) -> str:
        return self.versions[route]

    def point(self, route: Route, version: str) -> None:
        # The drain rule, checked where it matters: never repoint a colour with work in its queue.
        assert self.queues.depth(route).total == 0, f"{route} repointed before its queue drained"
        self.versions[route] = version
        self.pointed.append((route, version))


@dataclass
class World:
    clock: FakeClock
    weights: FakeWeight
    alarms: FakeAlarms
    queues: FakeQueues
    aliases: FakeAliases

    def run(self, plan: RolloutPlan = PLAN) -> RolloutReport:
        return Rollout(self.weights, self.alarms, self.queues, self.aliases, self.clock).run(plan)


def world(weight: int = 0, fires: Callable[[Route, int], bool] | None = None) -> World:
    clock = FakeClock()
    weights = FakeWeight(weight)
    queues = FakeQueues(clock)
    alarms = FakeAlarms(weights) if fires is None else FakeAlarms(weights, fires)
    return World(clock, weights, alarms, queues, FakeAliases({"blue": "5", "green": "6"}, queues))


def test_quiet_alarms_promote_green_through_every_step() -> None:
    w = world()
    report = w.run()
    assert report.outcome is Outcome.PROMOTED
    assert (report.colour, report.previous_version) == ("green", "6")
    assert w.weights.history == [10, 50, 100]
    assert w.aliases.pointed == [("green", "7")]
    # Each step baked its full time: 3 x 60 s.
    assert w.clock.t - 1000.0 == pytest.approx(180.0)
    bakes = [s for s in report.steps if s.phase == "bake"]
    assert {s.weight for s in bakes} == {10, 50, 100}
    assert all(s.alarms == {"worker-failures-green": "OK"} for s in bakes)
    assert all(set(s.depths) == {"blue", "green"} for s in report.steps)


def test_from_weight_100_blue_is_idle_and_its_share_rises() -> None:
    w = world(weight=100)
    report = w.run()
    assert (report.outcome, report.colour) == (Outcome.PROMOTED, "blue")
    assert w.weights.history == [90, 50, 0]
    assert w.aliases.pointed == [("blue", "7")]


def test_an_alarm_at_10_percent_rolls_back_to_weight_0_and_restores_the_alias() -> None:
    w = world(fires=lambda route, weight: route == "green" and weight > 0)
    report = w.run()
    assert (report.outcome, report.failed_share) == (Outcome.ROLLED_BACK, 10)
    assert w.weights.history == [10, 0]
    assert w.weights.weight == 0
    assert report.restored
    assert w.aliases.pointed == [("green", "7"), ("green", "6")]
    decisions = [s.decision for s in report.steps]
    assert any("roll back" in d and "worker-failures-green" in d for d in decisions), decisions


def test_an_alarm_at_50_percent_rolls_back_after_10_percent_baked() -> None:
    w = world(fires=lambda route, weight: route == "green" and weight >= 50)
    report = w.run()
    assert (report.outcome, report.failed_share) == (Outcome.ROLLED_BACK, 50)
    assert w.weights.history == [10, 50, 0]
    # The 10 % step baked in full; the 50 % one stopped at its first poll.
    assert w.clock.t - 1000.0 == pytest.approx(60.0)


def test_a_blue_alarm_does_not_stop_a_green_rollout() -> None:
    w = world(fires=lambda route, weight: route == "blue")
    assert w.run().outcome is Outcome.PROMOTED


def test_the_alias_is_repointed_only_after_the_queue_drains() -> None:
    w = world()
    w.queues.busy_until["green"] = 1025.0  # stragglers on green for 25 s
    report = w.run()
    assert report.outcome is Outcome.PROMOTED
    point = next(s for s in report.steps if s.phase == "point")
    assert point.at_s >= 25.0
    waits = [s for s in report.steps if s.phase == "drain" and s.decision.startswith("wait")]
    assert len(waits) == 3  # at 0, 10 and 20 s, each with the depth it read
    assert all(s.depths["green"] == QueueDepth(2, 1) for s in waits)


def test_a_queue_that_never_drains_times_out_and_changes_nothing() -> None:
    w = world()
    w.queues.busy_until["green"] = 10_000.0
    report = w.run()
    assert report.outcome is Outcome.DRAIN_TIMEOUT
    assert (w.weights.history, w.aliases.pointed) == ([], [])
    assert w.clock.t - 1000.0 == pytest.approx(30.0)
    assert "not repointed" in report.steps[-1].decision


def test_after_a_rollback_an_undrained_queue_keeps_the_new_version() -> None:
    w = world(fires=lambda route, weight: route == "green" and weight > 0)

    def busy_after_rollback(route: Route) -> QueueDepth:
        return QueueDepth(0, 4 if route == "green" and w.weights.history[-1:] == [0] else 0)

    w.queues.depth = busy_after_rollback  # type: ignore[method-assign]
    report = w.run()
    assert (report.outcome, report.restored) == (Outcome.ROLLED_BACK, False)
    assert w.aliases.pointed == [("green", "7")]
    assert w.weights.weight == 0


@pytest.mark.parametrize("weight", [10, 50, 99])
def test_a_weight_mid_rollout_is_refused(weight: int) -> None:
    w = world(weight=weight)
    report = w.run()
    assert report.outcome is Outcome.REFUSED
    assert (w.weights.history, w.aliases.pointed) == ([], [])
    assert "mid-rollout" in report.steps[-1].decision


def test_an_alarm_already_firing_refuses_to_start() -> None:
    w = world(fires=lambda route, weight: route == "green")
    report = w.run()
    assert report.outcome is Outcome.REFUSED
    assert (w.weights.history, w.aliases.pointed) == ([], [])


def test_every_step_line_names_weight_alarms_and_depths() -> None:
    line = world().run().steps[-1].line()
    assert "weight=100" in line
    assert "worker-failures-green=OK" in line
    assert "green 0+0" in line


def test_colour_arithmetic() -> None:
    assert (idle_colour(0), idle_colour(100), idle_colour(40)) == ("green", "blue", None)
    assert (weight_for("green", 10), weight_for("blue", 10)) == (10, 90)


@pytest.mark.parametrize("steps", [(), (50, 10), (0, 100), (10, 101)])
def test_a_plan_needs_rising_steps(steps: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="steps must rise"):
        RolloutPlan("7", steps=steps)
