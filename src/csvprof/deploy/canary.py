"""The canary stand-in: CodeDeploy's `CodeDeployDefault.LambdaCanary10Percent5Minutes`, played
where CodeDeploy does not run (LocalStack, the local runtime), with the bake time a parameter.

The steps are CodeDeploy's: read the deployment's alarms; shift `percent` % of the alias to the
new version (`AdditionalVersionWeights`); watch the alarms for the bake time; then point the alias
at the new version (100 %) or, as soon as one alarm is in ALARM, undo the shift (0 %). Every step
is logged with the alarm states it read. On AWS, CodeDeploy does this itself (the deployment
group in infra/cloudformation/api.yaml); this controller only stands in for it in tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from csvprof.domain.canary import AlarmReader
from csvprof.local.aliases import AliasRouting

log = logging.getLogger(__name__)

ALARM = "ALARM"


class AliasTarget(Protocol):
    """Where the alias's routing is set: `LocalAlias`, or `LambdaAliasTarget` on Lambda."""

    def update(self, routing: AliasRouting) -> None: ...


@dataclass(frozen=True, slots=True)
class CanaryPlan:
    """LambdaCanary10Percent5Minutes: 10 % for 5 minutes, then the rest. `poll_s` is how often
    the alarms are read while baking (CodeDeploy's own cadence is not documented)."""

    percent: int = 10
    bake_s: float = 300.0
    poll_s: float = 10.0


@dataclass(frozen=True, slots=True)
class CanaryStep:
    elapsed_s: float
    action: str  # "check", "shift", "watch", "promote", "rollback"
    new_weight: float  # the new version's share of the alias after this step
    alarms: dict[str, str]


@dataclass
class CanaryOutcome:
    promoted: bool
    steps: list[CanaryStep] = field(default_factory=list)

    @property
    def actions(self) -> list[str]:
        return [step.action for step in self.steps]


@dataclass
class Canary:
    alias: AliasTarget
    alarms: AlarmReader
    alarm_names: Sequence[str]
    plan: CanaryPlan = field(default_factory=CanaryPlan)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def run(self, current: str, new: str) -> CanaryOutcome:
        """Shift the alias from `current` to `new` by the plan; roll back on any alarm."""
        started, outcome = self.clock(), CanaryOutcome(promoted=False)

        def step(action: str, weight: float, states: dict[str, str]) -> None:
            entry = CanaryStep(round(self.clock() - started, 3), action, weight, states)
            outcome.steps.append(entry)
            log.info(
                "canary %s -> %s: %s at %.0f %% new; alarms %s", current, new, action, weight * 100, states
            )

        states = self._read()
        step("check", 0.0, states)
        if _firing(states):  # CodeDeploy does not start a shift on an alarm that already fires
            return outcome
        weight = self.plan.percent / 100
        self.alias.update(AliasRouting(current, {new: weight}))
        step("shift", weight, states)
        deadline = started + self.plan.bake_s
        while self.clock() < deadline:
            self.sleep(min(self.plan.poll_s, max(0.0, deadline - self.clock())))
            states = self._read()
            step("watch", weight, states)
            if _firing(states):
                self.alias.update(AliasRouting(current))
                step("rollback", 0.0, states)
                return outcome
        self.alias.update(AliasRouting(new))
        outcome.promoted = True
        step("promote", 1.0, self._read())
        return outcome

    def _read(self) -> dict[str, str]:
        states = self.alarms.states(self.alarm_names)
        return {name: states.get(name, "missing") for name in self.alarm_names}


def _firing(states: dict[str, str]) -> bool:
    return any(state == ALARM for state in states.values())


class LambdaAliasTarget:
    """A Lambda alias's routing through UpdateAlias, for an account without CodeDeploy."""

    def __init__(self, lambda_client: Any, function_name: str, alias: str) -> None:
        self.client, self.function_name, self.alias = lambda_client, function_name, alias

    def update(self, routing: AliasRouting) -> None:
        self.client.update_alias(
            FunctionName=self.function_name,
            Name=self.alias,
            FunctionVersion=routing.version,
            RoutingConfig={"AdditionalVersionWeights": dict(routing.additional)},
        )
