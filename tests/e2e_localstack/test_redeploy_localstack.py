"""A routine redeploy keeps what is live: deployed twice into LocalStack through the real deploy
code (`csvprof.deploy.order.deploy_stacks`), the second time with no parameters.

The second deploy's change sets have no changes (LocalStack, like CloudFormation, fails an
empty change set with "didn't contain changes"; the deployer reports it as unchanged), a
threshold set in the first deploy and the weight set through SSM by the rollout tooling
survive it, and no alarm is missing at any poll while it runs: the API Gateway alarms that
guard the canary are kept, since the deployed `ApiId` is kept.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from types import TracebackType

import pytest

from csvprof.deploy.order import deploy_stacks
from csvprof.deploy.outputs import ALARMS, Stack, alarm_name, stack_name
from csvprof.deploy.stacks import Deployer
from csvprof.deploy.target import DeployedStack
from csvprof.deploy.weight import read_weight, routing_parameter, set_weight
from tests.e2e_localstack.alarms import record
from tests.e2e_localstack.aws import LocalStack
from tests.e2e_localstack.conftest import DEPLOYED_HERE, teardown

THRESHOLD = "7"
INITIAL_WEIGHT = "10"
ROLLOUT_WEIGHT = 30
FIRST: dict[Stack, dict[str, str]] = {
    Stack.STORAGE: {"RawRetentionDays": "7"},
    Stack.MESSAGING: {"GreenWeight": INITIAL_WEIGHT},
    # No api stack here: a placeholder id, so the API Gateway alarms exist as after a full deploy.
    Stack.OBSERVABILITY: {"ApiId": "localstack-no-api", "ProfilesFailedThreshold": THRESHOLD},
}


class AlarmPresence:
    """Polls the deployment's alarms in a thread; each poll that misses one is kept."""

    def __init__(self, localstack: LocalStack, name: str) -> None:
        self.cloudwatch = localstack.cloudwatch()
        self.name = name
        self.expected = {alarm_name(name, a) for a in ALARMS}
        self.polls = 0
        self.missing: list[set[str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def present(self) -> set[str]:
        pages = self.cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{self.name}-")
        return {a["AlarmName"] for page in pages for a in page["MetricAlarms"]}

    def _run(self) -> None:
        while True:
            missing = self.expected - self.present()
            self.polls += 1
            if missing:
                self.missing.append(missing)
            if self._stop.wait(0.2):
                return

    def __enter__(self) -> AlarmPresence:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def name(localstack: LocalStack, deployer: Deployer) -> Iterator[str]:
    name = f"csvprof-redeploy-{uuid.uuid4().hex[:8]}"
    yield name
    target = DeployedStack(name, localstack.boto3_session(), endpoint_url=localstack.endpoint_url)
    teardown(localstack, target, deployer, list(DEPLOYED_HERE))


def test_a_redeploy_without_parameters_changes_nothing_and_keeps_what_is_live(
    localstack: LocalStack, deployer: Deployer, name: str
) -> None:
    started = time.monotonic()
    first = deploy_stacks(deployer, name, DEPLOYED_HERE, FIRST, termination_protection=False)
    record(f"[redeploy] first deploy of {len(first)} stacks: {time.monotonic() - started:.1f} s")
    assert [r.changed for r in first] == [True, True, True]
    deployed = {s: deployer.parameters(stack_name(name, s)) for s in DEPLOYED_HERE}
    with AlarmPresence(localstack, name) as watch:
        assert watch.present() == watch.expected

        # A rollout step, as the tooling takes it: the live weight is the SSM parameter.
        ssm, parameter = localstack.ssm(), routing_parameter(deployer, name)
        assert set_weight(ssm, parameter, ROLLOUT_WEIGHT) == int(INITIAL_WEIGHT)

        started = time.monotonic()
        second = deploy_stacks(deployer, name, DEPLOYED_HERE, {}, termination_protection=False)
        record(f"[redeploy] second deploy, no parameters: {time.monotonic() - started:.1f} s, unchanged")
    assert [(r.stack_name, r.changed) for r in second] == [
        (stack_name(name, s), False) for s in DEPLOYED_HERE
    ]
    assert {s: deployer.parameters(stack_name(name, s)) for s in DEPLOYED_HERE} == deployed
    assert read_weight(ssm, parameter) == ROLLOUT_WEIGHT
    alarm = localstack.cloudwatch().describe_alarms(AlarmNames=[alarm_name(name, "profiles-failed")])
    assert alarm["MetricAlarms"][0]["Threshold"] == float(THRESHOLD)
    assert watch.polls >= 2
    assert watch.missing == []
