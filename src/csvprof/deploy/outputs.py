"""Stack names, output names and export names shared by the templates and their readers.

The templates in infra/cloudformation/ declare exactly these outputs (a template test
checks both directions); the deploy script, the LocalStack e2e tests and the compute/api
stacks' `Fn::ImportValue`s find resources through them and nothing else.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Final


class Stack(StrEnum):
    """The stacks, in deployment order; the value is the template's file stem."""

    STORAGE = "storage"
    MESSAGING = "messaging"
    OBSERVABILITY = "observability"
    COMPUTE = "compute"
    API = "api"


DEPLOY_ORDER: Final[tuple[Stack, ...]] = tuple(Stack)
# Stateful stacks: retained data, termination protection on by default.
STATEFUL: Final[frozenset[Stack]] = frozenset({Stack.STORAGE, Stack.MESSAGING})


class StorageOutput(StrEnum):
    BUCKET_NAME = "BucketName"
    BUCKET_ARN = "BucketArn"


class MessagingOutput(StrEnum):
    BLUE_QUEUE_URL = "BlueQueueUrl"
    BLUE_QUEUE_ARN = "BlueQueueArn"
    BLUE_QUEUE_NAME = "BlueQueueName"
    GREEN_QUEUE_URL = "GreenQueueUrl"
    GREEN_QUEUE_ARN = "GreenQueueArn"
    GREEN_QUEUE_NAME = "GreenQueueName"
    DLQ_URL = "DeadLetterQueueUrl"
    DLQ_ARN = "DeadLetterQueueArn"
    DLQ_NAME = "DeadLetterQueueName"
    EVENT_BUS_NAME = "EventBusName"
    EVENT_BUS_ARN = "EventBusArn"
    ROUTING_PARAMETER_NAME = "RoutingParameterName"
    MAX_RECEIVE_COUNT = "MaxReceiveCount"
    VISIBILITY_TIMEOUT_SECONDS = "VisibilityTimeoutSeconds"


class ObservabilityOutput(StrEnum):
    ALARM_TOPIC_ARN = "AlarmTopicArn"
    API_LOG_GROUP_NAME = "ApiLogGroupName"
    WORKER_LOG_GROUP_NAME = "WorkerLogGroupName"
    RECONCILER_LOG_GROUP_NAME = "ReconcilerLogGroupName"
    ACCESS_LOG_GROUP_ARN = "AccessLogGroupArn"
    DASHBOARD_NAME = "DashboardName"


class ComputeOutput(StrEnum):
    API_FUNCTION_NAME = "ApiFunctionName"
    API_LIVE_ALIAS_ARN = "ApiLiveAliasArn"
    WORKER_FUNCTION_NAME = "WorkerFunctionName"
    WORKER_BLUE_ALIAS_ARN = "WorkerBlueAliasArn"
    WORKER_GREEN_ALIAS_ARN = "WorkerGreenAliasArn"
    RECONCILER_FUNCTION_NAME = "ReconcilerFunctionName"


class ApiOutput(StrEnum):
    API_ID = "ApiId"
    API_URL = "ApiUrl"
    CODEDEPLOY_APPLICATION = "CodeDeployApplicationName"
    CODEDEPLOY_DEPLOYMENT_GROUP = "CodeDeployDeploymentGroupName"


OUTPUTS: Final[dict[Stack, type[StrEnum]]] = {
    Stack.STORAGE: StorageOutput,
    Stack.MESSAGING: MessagingOutput,
    Stack.OBSERVABILITY: ObservabilityOutput,
    Stack.COMPUTE: ComputeOutput,
    Stack.API: ApiOutput,
}

# Alarm names are "<Name>-<alarm>", <alarm> as named in docs/observability.md. They are
# built, not imported, where a consumer deploys before the alarm exists (CodeDeploy).
ALARMS: Final[tuple[str, ...]] = (
    "api-errors",
    "api-5xx",
    "api-latency-p99",
    "api-live-5xx",
    "api-live-latency-p99",
    "api-throttles",
    "worker-errors",
    "worker-duration",
    "worker-throttles",
    "dlq-visible",
    "queue-age-blue",
    "queue-age-green",
    "profiles-failed",
    "worker-failures-blue",
    "worker-failures-green",
    "datasets-reconciled",
)


# The alarms the API's CodeDeploy deployment group watches (api.yaml's AlarmConfiguration), and
# the after-traffic hook and the canary stand-in read: any in ALARM stops and rolls back a shift.
CANARY_ALARMS: Final[tuple[str, ...]] = (
    "api-errors",
    "api-5xx",
    "api-latency-p99",
    "api-live-5xx",
    "api-live-latency-p99",
)


def stack_name(name: str, stack: Stack) -> str:
    """The CloudFormation stack name for deployment `name` (e.g. "csvprof-prod-storage")."""
    return f"{name}-{stack.value}"


def export_name(name: str, output: StrEnum) -> str:
    """The export an output is published under: "<Name>-<OutputName>" (the templates' `!Sub`)."""
    return f"{name}-{output.value}"


def alarm_name(name: str, alarm: str) -> str:
    if alarm not in ALARMS:
        raise ValueError(f"unknown alarm {alarm!r}")
    return f"{name}-{alarm}"


def template_path(stack: Stack, root: Path | None = None) -> Path:
    base = root if root is not None else Path(__file__).resolve().parents[3] / "infra" / "cloudformation"
    return base / f"{stack.value}.yaml"
