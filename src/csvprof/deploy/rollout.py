"""The worker rollout's wiring: the controller's ports on a deployment's resources.

`csvprof rollout worker` and `csvprof rollout status` use it; the decisions are
`csvprof.domain.rollout`'s. The resources come from the stacks' outputs (`--stack`) or are named
one by one (an emulator, a test).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from csvprof.adapters.clients import client_config
from csvprof.adapters.cloudwatch import CloudWatchAlarms
from csvprof.adapters.lambda_aliases import LambdaAliases
from csvprof.adapters.sqs import SqsQueueDepths
from csvprof.contracts.meta import Route
from csvprof.deploy.outputs import ComputeOutput, MessagingOutput, Stack, alarm_name
from csvprof.deploy.stacks import DeployError
from csvprof.deploy.target import DeployedStack
from csvprof.deploy.weight import SsmWeight
from csvprof.domain.ports import AliasPointer, QueueDepth
from csvprof.domain.rollout import ROUTES, Observation, Rollout

if TYPE_CHECKING:
    import boto3


class MonotonicClock:
    """Real time for the controller: immune to wall-clock jumps."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def colour_alarms(name: str) -> dict[Route, list[str]]:
    """The alarms that judge each colour: its `worker-failures-<colour>` (docs/observability.md)."""
    return {route: [alarm_name(name, f"worker-failures-{route}")] for route in ROUTES}


@dataclass(frozen=True, slots=True)
class RolloutTarget:
    """Where the controller acts: the routing parameter, the work queues, the alarms, the worker."""

    parameter: str
    queue_urls: dict[Route, str]
    alarms: dict[Route, list[str]]
    function_name: str | None  # None: no aliases to read or point (a stack without compute)

    @classmethod
    def of_stack(cls, deployed: DeployedStack) -> RolloutTarget:
        deployed.load((Stack.MESSAGING,))
        try:
            deployed.load((Stack.COMPUTE,))
            function: str | None = deployed.outputs[Stack.COMPUTE][ComputeOutput.WORKER_FUNCTION_NAME.value]
        except DeployError:
            function = None  # no compute stack (LocalStack runs no Lambda here): no aliases to read
        return cls(
            parameter=deployed.output(Stack.MESSAGING, MessagingOutput.ROUTING_PARAMETER_NAME),
            queue_urls=deployed.work_queue_urls,
            alarms=colour_alarms(deployed.name),
            function_name=function,
        )


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    weight: int
    versions: dict[Route, str | None]
    depths: dict[Route, QueueDepth]
    alarms: dict[Route, dict[str, str]]

    def lines(self) -> list[str]:
        lines = [f"green weight: {self.weight}% of new datasets (blue {100 - self.weight}%)"]
        for route in ROUTES:
            depth, version = self.depths[route], self.versions[route]
            alarms = ", ".join(f"{n}={s}" for n, s in sorted(self.alarms[route].items())) or "-"
            lines.append(
                f"{route:<5} alias version {version or '?'}; queue {depth.visible} visible + "
                f"{depth.in_flight} in flight; alarms {alarms}"
            )
        return lines


@dataclass
class Controls:
    """The controller's ports for one target, with AWS clients from one session."""

    session: boto3.Session
    target: RolloutTarget
    endpoint_url: str | None = None
    aliases: AliasPointer | None = None  # None: the worker function's Lambda aliases

    def _client(self, service: str) -> Any:
        config = client_config(self.session.region_name, self.endpoint_url)
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)  # type: ignore[call-overload]

    def pointer(self) -> AliasPointer | None:
        if self.aliases is None and self.target.function_name is not None:
            self.aliases = LambdaAliases(self._client("lambda"), self.target.function_name)
        return self.aliases

    def rollout(self, on_step: Callable[[Observation], None] | None = None) -> Rollout:
        pointer = self.pointer()
        if pointer is None:
            raise ValueError("a rollout needs the worker function (its aliases) to point")
        return Rollout(
            weights=SsmWeight(self._client("ssm"), self.target.parameter),
            alarms=CloudWatchAlarms(self._client("cloudwatch"), self.target.alarms),
            queues=SqsQueueDepths(self._client("sqs"), self.target.queue_urls),
            aliases=pointer,
            clock=MonotonicClock(),
            on_step=on_step,
        )

    def status(self) -> RolloutStatus:
        pointer = self.pointer()
        alarms = CloudWatchAlarms(self._client("cloudwatch"), self.target.alarms)
        depths = SqsQueueDepths(self._client("sqs"), self.target.queue_urls)
        return RolloutStatus(
            weight=SsmWeight(self._client("ssm"), self.target.parameter).get(),
            versions={r: pointer.version(r) if pointer is not None else None for r in ROUTES},
            depths={r: depths.depth(r) for r in ROUTES},
            alarms={r: alarms.states(r) for r in ROUTES},
        )


def print_step(seen: Observation) -> None:
    print(seen.line(), flush=True)
