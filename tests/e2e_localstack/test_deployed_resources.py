"""The deployed stacks really hold what the templates declare: checked with describe/get calls.

Stack status alone proves nothing in LocalStack (unsupported types report CREATE_COMPLETE
without being created), so every resource is read back from its own service. The few
properties LocalStack's CloudFormation does not apply are listed in NOT_APPLIED_BY_LOCALSTACK,
printed, covered by tests/unit/test_templates.py instead, and checked to be documented as such
and to be really absent (so the list cannot go stale when LocalStack starts applying one).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from csvprof.deploy.outputs import (
    ALARMS,
    MessagingOutput,
    ObservabilityOutput,
    Stack,
    StorageOutput,
    alarm_name,
)
from csvprof.deploy.target import DeployedStack
from csvprof.limits import DLQ_RETENTION_S, SQS_MAX_RECEIVE_COUNT
from tests.e2e_localstack.alarms import record
from tests.e2e_localstack.aws import LocalStack
from tests.e2e_localstack.conftest import (
    ALARM_PERIOD_S,
    GREEN_WEIGHT,
    PROFILES_FAILED_THRESHOLD,
    ROOT,
    VISIBILITY_TIMEOUT_S,
)
from tests.unit.test_templates import documented_alarms, resources

VERIFIED_WHERE = ROOT / "docs" / "deployment-strategy.md"


def _absent(call: Callable[[], Any], *missing: str) -> Any:
    """`call()`, or None when the service answers with one of the `missing` error codes."""
    try:
        return call()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in missing:
            return None
        raise


def _lifecycle_applied(aws: LocalStack, deployed: DeployedStack) -> bool:
    bucket = deployed.output(Stack.STORAGE, StorageOutput.BUCKET_NAME)
    answer = _absent(
        lambda: aws.s3().get_bucket_lifecycle_configuration(Bucket=bucket), "NoSuchLifecycleConfiguration"
    )
    return bool(answer and answer.get("Rules"))


def _bucket_key_applied(aws: LocalStack, deployed: DeployedStack) -> bool:
    bucket = deployed.output(Stack.STORAGE, StorageOutput.BUCKET_NAME)
    rules = aws.s3().get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    return any(rule.get("BucketKeyEnabled") for rule in rules)


def _log_retention_applied(aws: LocalStack, deployed: DeployedStack) -> bool:
    groups = aws.logs().describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{deployed.name}-")["logGroups"]
    assert groups, "the log groups themselves exist (test_log_groups_and_alarm_topic_exist)"
    return any("retentionInDays" in group for group in groups)


def _dashboard_applied(aws: LocalStack, deployed: DeployedStack) -> bool:
    return bool(aws.cloudwatch().list_dashboards(DashboardNamePrefix=deployed.name)["DashboardEntries"])


def _archive_applied(aws: LocalStack, deployed: DeployedStack) -> bool:
    answer = _absent(
        lambda: aws.events().list_archives(NamePrefix=deployed.name),
        "InternalFailure",
        "NotImplementedError",
        "NotImplemented",
    )
    return bool(answer and answer.get("Archives"))


@dataclass(frozen=True)
class NotApplied:
    """A property or resource LocalStack's CloudFormation accepts and drops (LocalStack 2026.3.0)."""

    stack: Stack
    what: str
    # The template really declares it: (resource type, property path or None for the resource).
    declared: tuple[str, str | None]
    # Where docs/deployment-strategy.md's "What is verified where" says LocalStack does not have it.
    documented: str
    # Read back from the service: True once LocalStack applies it (then check it for real above).
    applied: Callable[[LocalStack, DeployedStack], bool]


NOT_APPLIED_BY_LOCALSTACK = (
    NotApplied(
        Stack.STORAGE,
        "S3 LifecycleConfiguration (raw/ expiry)",
        ("AWS::S3::Bucket", "LifecycleConfiguration"),
        "bucket lifecycle rule for `raw/`",
        _lifecycle_applied,
    ),
    NotApplied(
        Stack.STORAGE,
        "BucketKeyEnabled",
        ("AWS::S3::Bucket", "BucketEncryption"),
        "S3 Bucket Key",
        _bucket_key_applied,
    ),
    NotApplied(
        Stack.OBSERVABILITY,
        "log group RetentionInDays",
        ("AWS::Logs::LogGroup", "RetentionInDays"),
        "retention is not applied by LocalStack",
        _log_retention_applied,
    ),
    NotApplied(
        Stack.OBSERVABILITY,
        "the CloudWatch dashboard",
        ("AWS::CloudWatch::Dashboard", None),
        "event archive, dashboard",
        _dashboard_applied,
    ),
    NotApplied(
        Stack.MESSAGING,
        "the EventBridge archive",
        ("AWS::Events::Archive", None),
        "event archive, dashboard",
        _archive_applied,
    ),
)


@pytest.mark.parametrize("gap", NOT_APPLIED_BY_LOCALSTACK, ids=lambda gap: gap.what)
def test_what_localstack_does_not_apply_is_declared_documented_and_really_absent(
    localstack: LocalStack, deployed: DeployedStack, gap: NotApplied
) -> None:
    record(f"[static only] {gap.stack}: {gap.what} (checked in tests/unit/test_templates.py)")
    # The template declares it: the gap is about something the deployment really uses
    type_name, prop = gap.declared
    declared = resources(gap.stack, type_name)
    assert declared, f"{gap.stack}.yaml has no {type_name}: drop {gap.what!r} from the list"
    if prop is not None:
        assert all(prop in r["Properties"] for r in declared.values()), f"{type_name} without {prop}"
    # The doc tells readers LocalStack does not verify it
    row = next((line for line in VERIFIED_WHERE.read_text().splitlines() if gap.documented in line), None)
    assert row is not None, f"docs/deployment-strategy.md does not name {gap.documented!r}"
    assert "| no" in row or "not applied" in row, row
    # And LocalStack really did not apply it: once it does, check it above like the rest
    assert not gap.applied(localstack, deployed), (
        f"LocalStack now applies {gap.what}: assert it in this file and drop it from "
        "NOT_APPLIED_BY_LOCALSTACK and the doc's table"
    )


def test_bucket_is_encrypted_private_versioned_and_tls_only(
    localstack: LocalStack, deployed: DeployedStack
) -> None:
    s3 = localstack.s3()
    bucket = deployed.output(Stack.STORAGE, StorageOutput.BUCKET_NAME)
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    [deny] = policy["Statement"]
    assert (deny["Effect"], deny["Action"], deny["Principal"]) == ("Deny", "s3:*", "*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert set(deny["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}


@pytest.mark.parametrize("route", ["blue", "green"])
def test_work_queues_redrive_to_the_dlq(localstack: LocalStack, deployed: DeployedStack, route: str) -> None:
    sqs = localstack.sqs()
    attributes = sqs.get_queue_attributes(QueueUrl=deployed.work_queue_urls[route], AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == str(VISIBILITY_TIMEOUT_S)  # the parameter this run passed
    assert attributes["SqsManagedSseEnabled"] == "true"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == deployed.output(Stack.MESSAGING, MessagingOutput.DLQ_ARN)
    assert int(redrive["maxReceiveCount"]) == SQS_MAX_RECEIVE_COUNT
    policy = json.loads(attributes["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_dlq_keeps_messages_fourteen_days(localstack: LocalStack, deployed: DeployedStack) -> None:
    attributes = localstack.sqs().get_queue_attributes(QueueUrl=deployed.dlq_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert int(attributes["MessageRetentionPeriod"]) == DLQ_RETENTION_S
    assert attributes["SqsManagedSseEnabled"] == "true"


def test_event_bus_and_routing_parameter(localstack: LocalStack, deployed: DeployedStack) -> None:
    bus = deployed.output(Stack.MESSAGING, MessagingOutput.EVENT_BUS_NAME)
    described = localstack.events().describe_event_bus(Name=bus)
    assert described["Arn"] == deployed.output(Stack.MESSAGING, MessagingOutput.EVENT_BUS_ARN)
    parameter = deployed.output(Stack.MESSAGING, MessagingOutput.ROUTING_PARAMETER_NAME)
    assert localstack.ssm().get_parameter(Name=parameter)["Parameter"]["Value"] == str(GREEN_WEIGHT)


def test_log_groups_and_alarm_topic_exist(localstack: LocalStack, deployed: DeployedStack) -> None:
    logs = localstack.logs()
    names = {
        deployed.output(Stack.OBSERVABILITY, ObservabilityOutput.API_LOG_GROUP_NAME),
        deployed.output(Stack.OBSERVABILITY, ObservabilityOutput.WORKER_LOG_GROUP_NAME),
        f"/aws/apigateway/{deployed.name}-access",
        # The API alias's CodeDeploy hooks (compute stack, not deployed here).
        f"/aws/lambda/CodeDeployHook_{deployed.name}-before",
        f"/aws/lambda/CodeDeployHook_{deployed.name}-after",
    }
    found = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/")["logGroups"]}
    assert names <= found
    topic = deployed.output(Stack.OBSERVABILITY, ObservabilityOutput.ALARM_TOPIC_ARN)
    assert localstack.sns().get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic


def test_every_documented_alarm_exists_with_its_threshold_period_and_actions(
    localstack: LocalStack, deployed: DeployedStack
) -> None:
    overrides = {
        "profiles-failed": (PROFILES_FAILED_THRESHOLD, ALARM_PERIOD_S),
        "dlq-visible": (None, ALARM_PERIOD_S),
        "api-live-5xx": (None, ALARM_PERIOD_S),  # the canary test watches it fire
    }
    cloudwatch = localstack.cloudwatch()
    alarms = {
        a["AlarmName"]: a
        for a in cloudwatch.describe_alarms(AlarmNamePrefix=f"{deployed.name}-")["MetricAlarms"]
    }
    topic = deployed.output(Stack.OBSERVABILITY, ObservabilityOutput.ALARM_TOPIC_ARN)
    documented = documented_alarms()
    assert set(documented) == set(ALARMS)
    assert set(alarms) == {alarm_name(deployed.name, a) for a in ALARMS}
    for short, row in documented.items():
        alarm = alarms[alarm_name(deployed.name, short)]
        threshold, period = overrides.get(short, (None, None))
        assert alarm["Threshold"] == (threshold if threshold is not None else row.threshold), short
        assert alarm["Period"] == (period if period is not None else row.period_s), short
        assert alarm["EvaluationPeriods"] == row.evaluation_periods, short
        assert (alarm["Namespace"], alarm["MetricName"]) == (row.namespace, row.metric), short
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", short
        assert alarm["AlarmActions"] == [topic], short
        assert alarm["OKActions"] == [topic], short
