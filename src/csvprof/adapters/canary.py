"""boto3 behind the canary's ports (csvprof.domain.canary): Lambda Invoke of one version,
CodeDeploy's PutLifecycleEventHookExecutionStatus, CloudWatch's DescribeAlarms."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from csvprof.domain.canary import HookEvent, HookStatus

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

# DescribeAlarms accepts at most 100 names per call.
MAX_ALARM_NAMES = 100


class InvokeFailed(Exception):
    """The version raised, timed out or could not be invoked (Lambda's FunctionError)."""


class LambdaVersionInvoker:
    """Invokes `function_name:version` synchronously (RequestResponse)."""

    def __init__(self, lambda_client: Any, function_name: str, version: str) -> None:
        self.client, self.function_name, self.version = lambda_client, function_name, version

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        response = self.client.invoke(
            FunctionName=self.function_name,
            Qualifier=self.version,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = response["Payload"].read()
        if response.get("FunctionError"):
            raise InvokeFailed(
                f"{self.function_name}:{self.version} {response['FunctionError']}: {payload[:300]!r}"
            )
        result = json.loads(payload or b"null")
        if not isinstance(result, dict):
            raise InvokeFailed(f"{self.function_name}:{self.version} returned {str(result)[:200]}")
        return result


class CodeDeployHookReporter:
    def __init__(self, codedeploy_client: Any) -> None:
        self.client = codedeploy_client

    def report(self, hook: HookEvent, status: HookStatus) -> None:
        self.client.put_lifecycle_event_hook_execution_status(
            deploymentId=hook.deployment_id,
            lifecycleEventHookExecutionId=hook.execution_id,
            status=status.value,
        )


class CloudWatchAlarmReader:
    def __init__(self, cloudwatch: CloudWatchClient) -> None:
        self.cloudwatch = cloudwatch

    def states(self, names: Sequence[str]) -> dict[str, str]:
        states: dict[str, str] = {}
        for start in range(0, len(names), MAX_ALARM_NAMES):
            chunk = list(names[start : start + MAX_ALARM_NAMES])
            paginator = self.cloudwatch.get_paginator("describe_alarms")
            for page in paginator.paginate(AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    states[alarm["AlarmName"]] = alarm["StateValue"]
        return states
