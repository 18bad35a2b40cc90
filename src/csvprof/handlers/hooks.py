"""CodeDeploy lifecycle hooks for the API's live alias: wiring for csvprof.domain.canary.

`before_traffic` (BeforeAllowTraffic) smoke-tests the version this deployment published;
`after_traffic` (AfterAllowTraffic) fails the deployment if one of its alarms is in ALARM.
Each reports Succeeded or Failed with PutLifecycleEventHookExecutionStatus; CodeDeploy rolls the
alias back on Failed. Both are given to CodeDeploy by compute.yaml's CodeDeployLambdaAliasUpdate.
"""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from csvprof.adapters.canary import CloudWatchAlarmReader, CodeDeployHookReporter, LambdaVersionInvoker
from csvprof.adapters.clients import canary_client, cloudwatch_client
from csvprof.config import CanarySettings
from csvprof.domain.canary import (
    AlarmReader,
    CheckResult,
    HookEvent,
    HookReporter,
    VersionInvoker,
    after_allow_traffic,
    before_allow_traffic,
)
from csvprof.handlers.types import LambdaHandler, lazy_handler
from csvprof.observability import Observability, for_component


def _summary(obs: Observability, stage: str, hook: HookEvent, results: list[CheckResult]) -> dict[str, Any]:
    """One log line per check and the hook's answer (CodeDeploy ignores it; people read it)."""
    for result in results:
        log = obs.logger.info if result.passed else obs.logger.error
        log(f"{stage}: {result.name}", extra={"passed": result.passed, "detail": result.detail})
    passed = bool(results) and all(r.passed for r in results)
    return {"deployment_id": hook.deployment_id, "passed": passed, "checks": [r.name for r in results]}


def make_before_handler(
    settings: CanarySettings, invoker: VersionInvoker | None = None, reporter: HookReporter | None = None
) -> LambdaHandler:
    obs = for_component("hooks")
    version = invoker or LambdaVersionInvoker(
        canary_client("lambda", settings.endpoint_url, settings.region),
        settings.api_function,
        settings.version,
    )
    status = reporter or CodeDeployHookReporter(
        canary_client("codedeploy", settings.endpoint_url, settings.region)
    )

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        hook = HookEvent.parse(event)
        return _summary(obs, "before allow traffic", hook, before_allow_traffic(hook, version, status))

    return cast(LambdaHandler, obs.logger.inject_lambda_context(handler, clear_state=True))


def make_after_handler(
    settings: CanarySettings, alarms: AlarmReader | None = None, reporter: HookReporter | None = None
) -> LambdaHandler:
    obs = for_component("hooks")
    reader = alarms or CloudWatchAlarmReader(cloudwatch_client(settings.endpoint_url, settings.region))
    status = reporter or CodeDeployHookReporter(
        canary_client("codedeploy", settings.endpoint_url, settings.region)
    )

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        hook = HookEvent.parse(event)
        results = after_allow_traffic(hook, reader, settings.alarm_names, status)
        return _summary(obs, "after allow traffic", hook, results)

    return cast(LambdaHandler, obs.logger.inject_lambda_context(handler, clear_state=True))


# The Lambda entry points; the configuration is read on the first invocation (cold start).
before_traffic = lazy_handler(lambda: make_before_handler(CanarySettings.from_env()))
after_traffic = lazy_handler(lambda: make_after_handler(CanarySettings.from_env()))
