"""Worker rollout: a new version onto the idle colour, the weight raised step by step while
that colour's alarms stay quiet, back to weight 0 on the first alarm.

The idle colour is the one taking no new dataset: green at weight 0, blue at weight 100. The
controller points the idle colour's alias at the new version, raises that colour's share of new
datasets through `steps` (10, 50, 100 %), and bakes each step for `bake_s`, reading the colour's
alarms every `poll_s`. An alarm in ALARM rolls back: the colour's share goes back to 0, and once
its queue has drained its alias goes back to the previous version.

The drain rule: an alias is repointed only when its queue holds nothing (visible + in flight =
0), so every message is profiled by the version that was live when it was delivered, and a
retried message is not picked up by a different version half-way. The wait is bounded
(`drain_timeout_s`); past it nothing is repointed and the report says so.

Every decision is made on an `Observation` (weight, alarm states, both queues' depths), kept in
the report and logged, so an operator can replay why the controller did what it did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from csvprof.contracts.meta import Route
from csvprof.domain.ports import AlarmReader, AliasPointer, QueueDepth, QueueDepths, Sleeper, WeightStore

log = logging.getLogger(__name__)

ROUTES: tuple[Route, Route] = ("blue", "green")
ALARM = "ALARM"


class Outcome(StrEnum):
    PROMOTED = "promoted"  # the colour takes 100 % of new datasets on the new version
    ROLLED_BACK = "rolled_back"  # an alarm fired: the colour's share is 0 again
    DRAIN_TIMEOUT = "drain_timeout"  # the idle queue never drained: nothing was changed
    REFUSED = "refused"  # not startable: a weight between 0 and 100, or an alarm already firing


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    version: str
    steps: tuple[int, ...] = (10, 50, 100)
    bake_s: float = 300.0
    poll_s: float = 10.0
    drain_timeout_s: float = 900.0

    def __post_init__(self) -> None:
        if (
            not self.steps
            or any(not 0 < s <= 100 for s in self.steps)
            or list(self.steps) != sorted(self.steps)
        ):
            raise ValueError(f"steps must rise within 1-100, got {self.steps}")
        if self.bake_s < 0 or self.poll_s <= 0 or self.drain_timeout_s < 0:
            raise ValueError("bake_s and drain_timeout_s must be >= 0, poll_s > 0")


@dataclass(frozen=True, slots=True)
class Observation:
    """What the controller read before one decision, and the decision."""

    at_s: float  # seconds since the rollout began
    phase: str
    weight: int
    alarms: dict[str, str]
    depths: dict[Route, QueueDepth]
    decision: str

    def line(self) -> str:
        alarms = ", ".join(f"{name}={state}" for name, state in sorted(self.alarms.items())) or "-"
        depths = ", ".join(f"{r} {d.visible}+{d.in_flight}" for r, d in self.depths.items())
        return (
            f"+{self.at_s:6.1f}s {self.phase:<8} weight={self.weight:3d} "
            f"alarms[{alarms}] depth(visible+in-flight)[{depths}] -> {self.decision}"
        )


@dataclass
class RolloutReport:
    outcome: Outcome
    colour: Route | None
    version: str
    previous_version: str | None = None
    failed_share: int | None = None  # the share at which an alarm fired
    restored: bool = False  # after a rollback: the colour's alias is back on the previous version
    steps: list[Observation] = field(default_factory=list)


def idle_colour(weight: int) -> Route | None:
    """The colour with no share of new datasets, or None mid-rollout."""
    return "green" if weight == 0 else "blue" if weight == 100 else None


def weight_for(colour: Route, share: int) -> int:
    """The green weight that gives `colour` `share` percent of new datasets."""
    return share if colour == "green" else 100 - share


@dataclass
class Rollout:
    weights: WeightStore
    alarms: AlarmReader
    queues: QueueDepths
    aliases: AliasPointer
    clock: Sleeper
    # Each observation as it is made (the CLI prints it); the report keeps them all as well.
    on_step: Callable[[Observation], None] | None = None

    def run(self, plan: RolloutPlan) -> RolloutReport:
        started = self.clock.now()
        report = RolloutReport(Outcome.REFUSED, None, plan.version)
        observe = _Recorder(self, report, started)
        weight = self.weights.get()
        colour = idle_colour(weight)
        if colour is None:
            observe("start", None, f"refused: weight {weight} is mid-rollout (0 or 100 expected)")
            return report
        report.colour, report.previous_version = colour, self.aliases.version(colour)
        if observe(
            "start", colour, lambda firing: f"refused: {firing} already firing" if firing else "start"
        ):
            return report
        if not self._drain(plan, colour, observe, "drain"):
            report.outcome = Outcome.DRAIN_TIMEOUT
            return report
        self.aliases.point(colour, plan.version)
        observe("point", colour, f"{colour} alias -> version {plan.version}")
        for share in plan.steps:
            self.weights.set(weight_for(colour, share))
            observe("step", colour, f"{colour} share -> {share}% (weight {weight_for(colour, share)})")
            if not self._bake(plan, colour, observe):
                return self._roll_back(plan, colour, share, report, observe)
        report.outcome = Outcome.PROMOTED
        observe("done", colour, f"promoted: {colour} takes every new dataset on {plan.version}")
        return report

    def _bake(self, plan: RolloutPlan, colour: Route, observe: _Recorder) -> bool:
        """Watch `colour`'s alarms for `bake_s`; False at the first ALARM."""
        deadline = self.clock.now() + plan.bake_s
        while True:
            if observe("bake", colour, lambda firing: f"roll back: {firing} in ALARM" if firing else "quiet"):
                return False
            left = deadline - self.clock.now()
            if left <= 0:
                return True
            self.clock.sleep(min(plan.poll_s, left))

    def _roll_back(
        self, plan: RolloutPlan, colour: Route, share: int, report: RolloutReport, observe: _Recorder
    ) -> RolloutReport:
        self.weights.set(weight_for(colour, 0))
        report.outcome, report.failed_share = Outcome.ROLLED_BACK, share
        observe("rollback", colour, f"alarm at {share}%: {colour} share -> 0")
        previous = report.previous_version
        if (
            previous is not None
            and previous != plan.version
            and self._drain(plan, colour, observe, "restore")
        ):
            self.aliases.point(colour, previous)
            report.restored = True
            observe("restore", colour, f"{colour} alias -> version {previous}")
        return report

    def _drain(self, plan: RolloutPlan, colour: Route, observe: _Recorder, phase: str) -> bool:
        """Wait (bounded) until `colour`'s queue holds nothing, visible or in flight."""
        deadline = self.clock.now() + plan.drain_timeout_s
        while True:
            depth = self.queues.depth(colour)
            if depth.total == 0:
                observe(phase, colour, f"{colour} queue drained")
                return True
            if self.clock.now() >= deadline:
                observe(
                    phase,
                    colour,
                    f"{colour} queue not drained after {plan.drain_timeout_s:.0f}s: not repointed",
                )
                return False
            observe(phase, colour, f"wait: {colour} queue holds {depth.total}")
            self.clock.sleep(min(plan.poll_s, max(deadline - self.clock.now(), 0.0)))


Decision = str | Callable[[list[str]], str]


@dataclass
class _Recorder:
    """Reads the weight, `colour`'s alarms and both queues, records them with the decision taken
    on them, and returns the alarms in ALARM (a decision may depend on them)."""

    rollout: Rollout
    report: RolloutReport
    started: float

    def __call__(self, phase: str, colour: Route | None, decision: Decision) -> list[str]:
        ro = self.rollout
        alarms = ro.alarms.states(colour) if colour is not None else {}
        firing = sorted(name for name, state in alarms.items() if state == ALARM)
        seen = Observation(
            at_s=ro.clock.now() - self.started,
            phase=phase,
            weight=ro.weights.get(),
            alarms=alarms,
            depths={route: ro.queues.depth(route) for route in ROUTES},
            decision=decision if isinstance(decision, str) else decision(firing),
        )
        self.report.steps.append(seen)
        log.info("rollout %s", seen.line())
        if ro.on_step is not None:
            ro.on_step(seen)
        return firing
