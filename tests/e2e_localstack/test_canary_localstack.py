"""The canary stand-in against LocalStack: CodeDeploy's 10 % canary with a short bake time.

The API runs behind a `LocalAlias` named like the deployed function (`<Name>-api:live`) in the
local runtime; its EMF (ApiResponses5xx per alias and version) and the AWS/Lambda metrics the
alias publishes go to LocalStack's CloudWatch, where the deployed observability stack's alarms
(10 s periods) evaluate them. `Canary` reads the deployment group's alarms (outputs.CANARY_ALARMS).

- A healthy new version passes the BeforeAllowTraffic smoke test and is promoted to 100 %.
- A version built to fail (GET /datasets answers a handled 500) fails the smoke test, and once
  shifted anyway drives api-live-5xx to ALARM: the controller undoes the shift. api-errors stays
  quiet throughout: the 500s are handled, which is why api-live-5xx exists.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csvprof.adapters.canary import CloudWatchAlarmReader
from csvprof.deploy.canary import Canary, CanaryOutcome, CanaryPlan
from csvprof.deploy.outputs import CANARY_ALARMS, alarm_name
from csvprof.deploy.target import DeployedStack
from csvprof.domain.canary import HookEvent, HookStatus, before_allow_traffic
from csvprof.handlers import api, worker
from csvprof.local.aliases import AliasRouting, LocalAlias, LocalVersionInvoker
from csvprof.local.emf import EmfForwarder
from csvprof.local.runtime import LocalRuntime
from tests.e2e_localstack.alarms import AlarmWatch, record
from tests.e2e_localstack.aws import LocalStack
from tests.e2e_localstack.conftest import ALARM_PERIOD_S
from tests.support.http import HttpApi


class ListingBroken:
    """A meta repository whose listing fails: the bug the canary version ships."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def list(self, limit: int, after: Any) -> Any:
        raise RuntimeError("canary version built to fail")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def executed(localstack: LocalStack, deployed: DeployedStack, metric: str, version: str) -> float:
    """The sum of an AWS/Lambda metric of `<Name>-api:live` run by `version`, last 10 minutes."""
    now = datetime.now(UTC)
    function = f"{deployed.name}-api"
    answer = localstack.cloudwatch().get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[
            {"Name": "FunctionName", "Value": function},
            {"Name": "Resource", "Value": f"{function}:live"},
            {"Name": "ExecutedVersion", "Value": version},
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return sum(point["Sum"] for point in answer["Datapoints"])


class Reporter:
    def __init__(self) -> None:
        self.reported: list[HookStatus] = []

    def report(self, hook: HookEvent, status: HookStatus) -> None:
        self.reported.append(status)


@dataclasses.dataclass(frozen=True)
class Served:
    alias: LocalAlias
    http: HttpApi


@pytest.fixture(scope="module")
def served(localstack: LocalStack, deployed: DeployedStack, forwarder: EmfForwarder) -> Iterator[Served]:
    """`<Name>-api:live` on version 1, with 2 (broken) and 3 (healthy) published; served."""
    settings, session = deployed.settings(), localstack.boto3_session()
    service = api.build_service(settings, session)
    broken = dataclasses.replace(service, metas=ListingBroken(service.metas))
    versions = {
        "1": api.make_handler(settings, session),
        "2": api.make_handler(settings, session, service=broken),
        "3": api.make_handler(settings, session),
    }
    live = LocalAlias(
        f"{deployed.name}-api",
        "live",
        versions,
        AliasRouting("1"),
        cloudwatch=localstack.cloudwatch(),
        rng=random.Random(20261203),
    )
    with LocalRuntime(
        deployed, live, worker.make_handler(settings, session), emf_forwarder=forwarder
    ) as running:
        yield Served(live, HttpApi(running.api_url))


def canary(localstack: LocalStack, deployed: DeployedStack, live: LocalAlias, bake_s: float) -> Canary:
    names = [alarm_name(deployed.name, a) for a in CANARY_ALARMS]
    plan = CanaryPlan(percent=10, bake_s=bake_s, poll_s=2)
    return Canary(live, CloudWatchAlarmReader(localstack.cloudwatch()), names, plan)


def with_traffic(http: HttpApi, run: Any) -> tuple[CanaryOutcome, dict[int, int]]:
    """Run the canary while a client calls GET /datasets?limit=1 through the alias."""
    statuses: dict[int, int] = {}
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            status = http.call("GET", "/datasets?limit=1").status
            statuses[status] = statuses.get(status, 0) + 1
            done.wait(0.05)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        return run(), statuses
    finally:
        done.set()
        thread.join(timeout=30)


def log_outcome(outcome: CanaryOutcome, statuses: dict[int, int], prefix: str) -> None:
    for step in outcome.steps:
        alarms = {name.removeprefix(f"{prefix}-"): state for name, state in step.alarms.items()}
        record(f"[canary] +{step.elapsed_s:5.1f} s {step.action} (new at {step.new_weight:.0%}) {alarms}")
    record(f"[canary] client saw {statuses}")


def test_a_healthy_version_passes_the_hook_and_is_promoted(
    localstack: LocalStack, deployed: DeployedStack, served: Served
) -> None:
    alias, http = served.alias, served.http
    reporter = Reporter()
    before_allow_traffic(HookEvent("d-HEALTHY", "e-1"), LocalVersionInvoker(alias, "3"), reporter)
    assert reporter.reported == [HookStatus.SUCCEEDED]
    AlarmWatch(localstack, alarm_name(deployed.name, "api-live-5xx")).wait_for(
        "OK", timeout_s=12 * ALARM_PERIOD_S
    )

    outcome, statuses = with_traffic(
        http, lambda: canary(localstack, deployed, alias, 3 * ALARM_PERIOD_S).run("1", "3")
    )

    log_outcome(outcome, statuses, deployed.name)
    assert outcome.promoted, outcome.steps
    assert alias.routing == AliasRouting("3")
    assert set(statuses) == {200}
    alias.update(AliasRouting("1"))  # back to the baseline for the next test


def test_a_version_that_answers_500_fails_the_hook_and_its_alarm_undoes_the_shift(
    localstack: LocalStack, deployed: DeployedStack, served: Served
) -> None:
    alias, http = served.alias, served.http
    reporter = Reporter()
    results = before_allow_traffic(HookEvent("d-BROKEN", "e-1"), LocalVersionInvoker(alias, "2"), reporter)
    assert reporter.reported == [HookStatus.FAILED]
    assert "answered 500" in results[0].detail
    errors = AlarmWatch(localstack, alarm_name(deployed.name, "api-errors"))
    live_5xx = AlarmWatch(localstack, alarm_name(deployed.name, "api-live-5xx"))
    live_5xx.wait_for("OK", timeout_s=12 * ALARM_PERIOD_S)

    # CodeDeploy would have stopped at the hook; the stand-in shifts anyway to prove the alarm.
    outcome, statuses = with_traffic(
        http, lambda: canary(localstack, deployed, alias, 12 * ALARM_PERIOD_S).run("1", "2")
    )

    log_outcome(outcome, statuses, deployed.name)
    assert not outcome.promoted
    assert outcome.actions[:2] == ["check", "shift"]
    assert outcome.actions[-1] == "rollback"
    assert outcome.steps[-1].alarms[alarm_name(deployed.name, "api-live-5xx")] == "ALARM"
    assert alias.routing == AliasRouting("1")  # the shift is undone
    assert statuses.get(500, 0) > 0
    assert statuses.get(200, 0) > statuses[500]  # about 10 % of the answers were the canary's
    # Lambda's Errors never counted them: handled 500s.
    assert errors.state() != "ALARM"
    # The alias published what Lambda would, per executed version, to LocalStack's CloudWatch.
    invoked = executed(localstack, deployed, "Invocations", "2")
    assert invoked > 0
    assert executed(localstack, deployed, "Errors", "2") == 0
    record(f"[canary] rolled back {outcome.steps[-1].elapsed_s:.1f} s after the shift began")
