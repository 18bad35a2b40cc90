"""Deploy the stacks in order, the one loop included, keeping what is live.

Every parameter the operator does not set keeps its deployed value (`UsePreviousValue`, in
`stacks.change_set_parameters`). Three need more than that, because they follow other stacks
or the rollout:

- `observability.ApiId`: the first pass gets the api stack's deployed `ApiId` when there is
  one, so `api-5xx` and `api-latency-p99` are never deleted on a redeploy: they guard the
  canary that the compute stack starts. Only a first-ever deploy lacks them, before any API
  exists to canary; the pass after `api` sets the id.
- `compute.WorkerBlueVersion`: a new package must not move `blue` (where the weight sends most
  datasets) to untried code. When blue follows the deployed version (the value is empty) and
  the package changes, blue is pinned to the version it runs now; a pinned version is kept.
  Promoting is explicit: `--parameter compute.WorkerBlueVersion=` (empty).
- `messaging.GreenWeight` is only the routing parameter's initial value. The live weight is the
  SSM parameter, written by the rollout tooling (`csvprof.deploy.weight`); the stack keeps the
  template value it was created with, so CloudFormation never rewrites the parameter. Setting
  it on an update would be a second writer, so it is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from csvprof.deploy.outputs import DEPLOY_ORDER, STATEFUL, ApiOutput, Stack, stack_name, template_path
from csvprof.deploy.stacks import Deployer, DeployError, StackResult

API_ID: Final = "ApiId"
WORKER_BLUE_VERSION: Final = "WorkerBlueVersion"
GREEN_WEIGHT: Final = "GreenWeight"
ARTIFACT_SHA256: Final = "ArtifactSha256"
# compute.yaml's worker version resource: its physical id is the version's ARN.
WORKER_VERSION_RESOURCE: Final = "WorkerVersion"


def observability_parameters(deployer: Deployer, name: str, explicit: Mapping[str, str]) -> dict[str, str]:
    if API_ID in explicit:
        return dict(explicit)
    api = deployer.describe(stack_name(name, Stack.API))
    outputs = {} if api is None else {o["OutputKey"]: o["OutputValue"] for o in api.get("Outputs", [])}
    api_id = outputs.get(ApiOutput.API_ID.value)
    # No api stack: the deployed ApiId is kept (empty only on a first-ever deploy).
    return {**explicit, API_ID: api_id} if api_id else dict(explicit)


def compute_parameters(deployer: Deployer, name: str, explicit: Mapping[str, str]) -> dict[str, str]:
    if WORKER_BLUE_VERSION in explicit:
        return dict(explicit)
    stack = stack_name(name, Stack.COMPUTE)
    deployed = deployer.parameters(stack)
    if deployed is None or deployed.get(WORKER_BLUE_VERSION):
        return dict(explicit)  # a first deploy (blue = green = new), or a pinned blue: kept
    if explicit.get(ARTIFACT_SHA256, deployed.get(ARTIFACT_SHA256)) == deployed.get(ARTIFACT_SHA256):
        return dict(explicit)  # same code: no new version, blue stays where it is
    version = deployer.physical_id(stack, WORKER_VERSION_RESOURCE).rsplit(":", 1)[-1]
    if not version.isdigit():
        raise DeployError(
            f"{stack}: cannot tell which worker version blue runs ({version!r}); pass "
            "--parameter compute.WorkerBlueVersion=<version> (or empty to move blue to the new code)"
        )
    return {**explicit, WORKER_BLUE_VERSION: version}


def messaging_parameters(deployer: Deployer, name: str, explicit: Mapping[str, str]) -> dict[str, str]:
    stack = stack_name(name, Stack.MESSAGING)
    if GREEN_WEIGHT in explicit and deployer.describe(stack) is not None:
        raise DeployError(
            f"{stack}: GreenWeight is only the initial weight; the live weight is the SSM parameter. "
            f"Set it with: python -m csvprof.deploy weight --name {name} --set {explicit[GREEN_WEIGHT]}"
        )
    return dict(explicit)


_PLANS: Final[dict[Stack, Callable[[Deployer, str, Mapping[str, str]], dict[str, str]]]] = {
    Stack.MESSAGING: messaging_parameters,
    Stack.OBSERVABILITY: observability_parameters,
    Stack.COMPUTE: compute_parameters,
}


def stack_parameters(
    deployer: Deployer, name: str, stack: Stack, explicit: Mapping[str, str]
) -> dict[str, str]:
    """What `stack`'s change set sets: the operator's values, `Name`, and the values above."""
    given = {"Name": name, **explicit}
    plan = _PLANS.get(stack)
    return plan(deployer, name, given) if plan else given


def deploy_stacks(
    deployer: Deployer,
    name: str,
    stacks: Sequence[Stack],
    explicit: Mapping[Stack, Mapping[str, str]],
    *,
    termination_protection: bool = True,
) -> list[StackResult]:
    """Deploy `stacks` in order, then `observability` again after `api` (the one loop)."""
    results: list[StackResult] = []
    for stack in (s for s in DEPLOY_ORDER if s in stacks):
        parameters = stack_parameters(deployer, name, stack, explicit.get(stack, {}))
        results.append(
            deployer.deploy(
                stack_name(name, stack),
                template_path(stack),
                parameters,
                termination_protection=termination_protection and stack in STATEFUL,
            )
        )
    if Stack.API in stacks:
        # A first deploy creates the API Gateway alarms only now, with the API's id.
        api_id = results[-1].outputs[ApiOutput.API_ID.value]
        parameters = stack_parameters(
            deployer, name, Stack.OBSERVABILITY, {**explicit.get(Stack.OBSERVABILITY, {}), API_ID: api_id}
        )
        results.append(
            deployer.deploy(
                stack_name(name, Stack.OBSERVABILITY), template_path(Stack.OBSERVABILITY), parameters
            )
        )
    return results
