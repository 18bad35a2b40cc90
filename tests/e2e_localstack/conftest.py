"""The LocalStack layer: real CloudFormation stacks, the real handlers in the local runtime.

Session fixtures, outermost first:
- `localstack`: LocalStack on 127.0.0.1:4566, started by scripts/localstack.sh and stopped at
  the end even when a test or a fixture fails. Set CSVPROF_LOCALSTACK_ENDPOINT to use one that
  is already running (it is then left running). Every session and client of this layer comes
  from it: `localstack_client` sessions (tests/e2e_localstack/aws.py).
- `deployed`: the storage, messaging and observability stacks deployed through change sets
  under a name unique to this run, found again through their outputs; deleted afterwards,
  with the bucket the storage stack retains.
- `runtime`: the API and worker handlers in `LocalRuntime` against LocalStack's S3, SQS and
  EventBridge, with EMF forwarded to LocalStack's CloudWatch.

Compute and api are not deployed here: LocalStack runs no Lambda without Docker, and
API Gateway v2 and CodeDeploy are Pro features that it reports CREATE_COMPLETE without
creating. Their templates are checked by tests/unit/test_templates.py and cfn-lint.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from csvprof.deploy.outputs import DEPLOY_ORDER, MessagingOutput, ObservabilityOutput, Stack, stack_name
from csvprof.deploy.stacks import Deployer
from csvprof.deploy.target import DeployedStack
from csvprof.handlers import api, worker
from csvprof.local.emf import EmfForwarder
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import send_message_policy
from tests.e2e_localstack.alarms import RECORD, record
from tests.e2e_localstack.aws import REGION, LocalStack
from tests.support.http import HttpApi, wait_for

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "localstack.sh"
# Where scripts/localstack.sh starts it (GATEWAY_LISTEN).
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"

# Short periods so alarms move within a test; the deployed defaults are in the templates.
ALARM_PERIOD_S = 10
PROFILES_FAILED_THRESHOLD = 2
# Short enough to watch a poison message's three receives, long enough that a small CSV is
# profiled well inside one visibility window.
VISIBILITY_TIMEOUT_S = 3
GREEN_WEIGHT = 50

STACK_PARAMETERS: dict[Stack, dict[str, str]] = {
    Stack.STORAGE: {"RawRetentionDays": "7"},
    Stack.MESSAGING: {
        "VisibilityTimeoutSeconds": str(VISIBILITY_TIMEOUT_S),
        "GreenWeight": str(GREEN_WEIGHT),
    },
    Stack.OBSERVABILITY: {
        # A placeholder id: the API Gateway alarms are created and checked, with no API behind them.
        "ApiId": "localstack-no-api",
        "LogRetentionDays": "7",
        "ProfilesFailedPeriodSeconds": str(ALARM_PERIOD_S),
        "ProfilesFailedThreshold": str(PROFILES_FAILED_THRESHOLD),
        "DlqVisiblePeriodSeconds": str(ALARM_PERIOD_S),
        "ApiLive5xxPeriodSeconds": str(ALARM_PERIOD_S),
    },
}
DEPLOYED_HERE = (Stack.STORAGE, Stack.MESSAGING, Stack.OBSERVABILITY)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what happened in LocalStack (deploy times, alarm transitions) even when all passed."""
    if RECORD:
        terminalreporter.section("LocalStack: deployments and alarm transitions")
        for line in RECORD:
            terminalreporter.write_line(line)


def _healthy(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as answer:  # noqa: S310
            return bool(json.load(answer).get("services"))
    except OSError:
        return False


@pytest.fixture(scope="session")
def localstack() -> Iterator[LocalStack]:
    external = os.environ.get("CSVPROF_LOCALSTACK_ENDPOINT")
    if external:
        running = LocalStack.at(external)
        if not _healthy(running.endpoint_url):
            pytest.fail(f"CSVPROF_LOCALSTACK_ENDPOINT={external} does not answer /_localstack/health")
        record(f"[localstack] using the running instance at {running.endpoint_url}")
        yield running
        return
    started = time.monotonic()
    subprocess.run([str(SCRIPT), "start"], check=True)
    record(f"[localstack] install (when not cached) + start took {time.monotonic() - started:.1f} s")
    try:
        yield LocalStack.at(DEFAULT_ENDPOINT)
    finally:
        subprocess.run([str(SCRIPT), "stop"], check=False)


@pytest.fixture(scope="session")
def deployer(localstack: LocalStack) -> Deployer:
    return Deployer(localstack.cloudformation(), poll_interval_s=0.5, timeout_s=120)


@pytest.fixture(scope="session")
def deployed(localstack: LocalStack, deployer: Deployer) -> Iterator[DeployedStack]:
    name = f"csvprof-e2e-{uuid.uuid4().hex[:8]}"
    target = DeployedStack(name, localstack.boto3_session(), endpoint_url=localstack.endpoint_url)
    created: list[Stack] = []
    try:
        for stack in DEPLOYED_HERE:
            started = time.monotonic()
            created.append(stack)
            result = deployer.deploy(
                stack_name(name, stack),
                ROOT / "infra" / "cloudformation" / f"{stack}.yaml",
                {"Name": name, **STACK_PARAMETERS[stack]},
            )
            record(f"[deploy] {result.stack_name}: {result.status} in {time.monotonic() - started:.1f} s")
        target.load(DEPLOYED_HERE)
        yield target
    finally:
        teardown(localstack, target, deployer, created)


def teardown(localstack: LocalStack, target: DeployedStack, deployer: Deployer, created: list[Stack]) -> None:
    errors: list[str] = []
    for stack in reversed([s for s in DEPLOY_ORDER if s in created]):
        try:
            deployer.delete(stack_name(target.name, stack))
        except Exception as exc:
            errors.append(f"{stack}: {exc}")
    # The bucket outlives its stack (DeletionPolicy: Retain): empty it and delete it.
    s3 = localstack.s3()
    for bucket in [
        b["Name"] for b in s3.list_buckets().get("Buckets", []) if b["Name"].startswith(target.name)
    ]:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            items = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            if items:
                s3.delete_objects(
                    Bucket=bucket,
                    Delete={"Objects": [{"Key": i["Key"], "VersionId": i["VersionId"]} for i in items]},
                )
        s3.delete_bucket(Bucket=bucket)
    if errors:
        raise RuntimeError("LocalStack clean-up failed: " + "; ".join(errors))


def _test_queue(localstack: LocalStack, deployed: DeployedStack, suffix: str) -> tuple[str, str]:
    """(URL, ARN) of a new queue named after the deployment."""
    sqs = localstack.sqs()
    url = sqs.create_queue(QueueName=f"{deployed.name}-{suffix}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@contextmanager
def bus_events_queue(localstack: LocalStack, deployed: DeployedStack, suffix: str) -> Iterator[str]:
    """A queue behind a rule on the deployment's bus: every csvprof event published there."""
    sqs, events = localstack.sqs(), localstack.events()
    bus = deployed.output(Stack.MESSAGING, MessagingOutput.EVENT_BUS_NAME)
    url, arn = _test_queue(localstack, deployed, suffix)
    rule = f"{deployed.name}-{suffix}-all"
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps({"source": ["csvprof"]}))
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "test", "Arn": arn}])
    try:
        yield url
    finally:
        events.remove_targets(Rule=rule, EventBusName=bus, Ids=["test"])
        events.delete_rule(Name=rule, EventBusName=bus)
        sqs.delete_queue(QueueUrl=url)


@pytest.fixture(scope="session")
def events_queue(localstack: LocalStack, deployed: DeployedStack) -> Iterator[str]:
    """A queue behind a rule on the deployed bus, so tests can read what the worker published."""
    with bus_events_queue(localstack, deployed, "test-events") as url:
        yield url


@pytest.fixture(scope="session")
def alarm_notifications(localstack: LocalStack, deployed: DeployedStack) -> Iterator[str]:
    """An SQS queue subscribed to the alarm topic: alarm actions land here."""
    sqs, sns = localstack.sqs(), localstack.sns()
    topic = deployed.output(Stack.OBSERVABILITY, ObservabilityOutput.ALARM_TOPIC_ARN)
    url, arn = _test_queue(localstack, deployed, "test-alarms")
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": send_message_policy("sns.amazonaws.com", arn, topic)}
    )
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True)
    try:
        yield url
    finally:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        sqs.delete_queue(QueueUrl=url)


@pytest.fixture(scope="session")
def forwarder(localstack: LocalStack) -> EmfForwarder:
    return EmfForwarder(localstack.cloudwatch())


@pytest.fixture(scope="session")
def runtime(
    localstack: LocalStack, deployed: DeployedStack, forwarder: EmfForwarder
) -> Iterator[LocalRuntime]:
    settings = deployed.settings()
    assert settings.routing_parameter, "the API reads its weight from the routing parameter"
    parameter = localstack.ssm().get_parameter(Name=settings.routing_parameter)["Parameter"]["Value"]
    assert int(parameter) == GREEN_WEIGHT, "the routing parameter holds the deployed weight"
    session = localstack.boto3_session()
    handlers = (api.make_handler(settings, session), worker.make_handler(settings, session))
    with LocalRuntime(deployed, *handlers, emf_forwarder=forwarder) as running:
        yield running


@pytest.fixture(scope="session")
def http(runtime: LocalRuntime) -> HttpApi:
    return HttpApi(runtime.api_url)


def receive_all(localstack: LocalStack, queue_url: str, wait_s: int = 1) -> list[dict[str, Any]]:
    """Take every message currently on `queue_url` (one long poll), deleting them."""
    sqs = localstack.sqs()
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
    messages = answer.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(m["Body"]) for m in messages]


__all__ = ["REGION", "receive_all", "wait_for"]
