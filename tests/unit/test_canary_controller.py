"""The canary stand-in follows LambdaCanary10Percent5Minutes: 10 %, bake, then 100 % or back to 0 %."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3
from botocore.stub import Stubber

from csvprof.deploy.canary import Canary, CanaryPlan, LambdaAliasTarget
from csvprof.local.aliases import AliasRouting

NAMES = ("t-api-errors", "t-api-live-5xx")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Alarms:
    """States by time: `fires_at` seconds after the start, t-api-live-5xx goes ALARM."""

    def __init__(self, clock: Clock, fires_at: float | None) -> None:
        self.clock, self.fires_at = clock, fires_at

    def states(self, names: Sequence[str]) -> dict[str, str]:
        firing = self.fires_at is not None and self.clock.now >= self.fires_at
        return {"t-api-errors": "OK", "t-api-live-5xx": "ALARM" if firing else "OK"}


class Alias:
    def __init__(self) -> None:
        self.history: list[AliasRouting] = []

    def update(self, routing: AliasRouting) -> None:
        self.history.append(routing)


def canary(fires_at: float | None) -> tuple[Canary, Alias]:
    clock, alias = Clock(), Alias()
    plan = CanaryPlan(percent=10, bake_s=60, poll_s=10)
    return Canary(alias, Alarms(clock, fires_at), NAMES, plan, clock=clock, sleep=clock.sleep), alias


def test_a_quiet_canary_is_promoted_after_the_bake_time() -> None:
    runner, alias = canary(fires_at=None)
    outcome = runner.run("1", "2")
    assert outcome.promoted
    assert alias.history == [AliasRouting("1", {"2": 0.1}), AliasRouting("2")]
    assert outcome.actions == ["check", "shift", *["watch"] * 6, "promote"]
    assert outcome.steps[-2].elapsed_s == 60


def test_an_alarm_during_the_bake_rolls_the_shift_back() -> None:
    runner, alias = canary(fires_at=25)
    outcome = runner.run("1", "2")
    assert not outcome.promoted
    assert alias.history == [AliasRouting("1", {"2": 0.1}), AliasRouting("1")]
    assert outcome.actions == ["check", "shift", "watch", "watch", "watch", "rollback"]
    rollback = outcome.steps[-1]
    assert (rollback.elapsed_s, rollback.new_weight) == (30, 0.0)
    assert rollback.alarms == {"t-api-errors": "OK", "t-api-live-5xx": "ALARM"}


def test_no_shift_starts_while_an_alarm_fires() -> None:
    runner, alias = canary(fires_at=0)
    outcome = runner.run("1", "2")
    assert (outcome.promoted, outcome.actions, alias.history) == (False, ["check"], [])


def test_the_lambda_target_sets_the_alias_routing() -> None:
    client: Any = boto3.Session(region_name="us-east-1").client("lambda")
    with Stubber(client) as stub:
        stub.add_response(
            "update_alias",
            {},
            {
                "FunctionName": "t-api",
                "Name": "live",
                "FunctionVersion": "1",
                "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}},
            },
        )
        LambdaAliasTarget(client, "t-api", "live").update(AliasRouting("1", {"2": 0.1}))
        stub.assert_no_pending_responses()
