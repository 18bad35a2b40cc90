"""The CodeDeploy lifecycle hooks: the real API handler as the version under test (in-memory
ports), and CodeDeploy, Lambda and CloudWatch as boto3 clients under botocore's Stubber (no
emulator runs CodeDeploy). Both hooks must be able to fail a deployment, and do."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from csvprof.adapters.canary import (
    CloudWatchAlarmReader,
    CodeDeployHookReporter,
    InvokeFailed,
    LambdaVersionInvoker,
)
from csvprof.config import CanarySettings, Settings
from csvprof.contracts.keys import DatasetId
from csvprof.domain.canary import (
    CanaryCheckFailed,
    HookEvent,
    HookStatus,
    canary_name,
    check_accepted,
    check_dataset_list,
    check_meta,
)
from csvprof.domain.datasets import DatasetService
from csvprof.domain.ports import Versioned
from csvprof.handlers.api import make_handler
from csvprof.handlers.hooks import make_after_handler, make_before_handler
from csvprof.local.aliases import qualified_context
from csvprof.local.context import new_context
from tests.support.contracts import EXAMPLES
from tests.support.fakes import InMemoryArtifacts, InMemoryIdempotency, InMemoryMetas, RecordingQueue

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
EVENT = {"DeploymentId": "d-CANARY123", "LifecycleEventHookExecutionId": "exec-abc"}
SETTINGS = Settings(bucket="b", blue_queue_url="q1", green_queue_url="q2", event_bus_name="bus")
ALARMS = ("csvprof-t-api-errors", "csvprof-t-api-live-5xx")


def client(service: str) -> Any:
    # Stubbed: no request leaves the process; the environment's fake credentials sign it.
    return boto3.Session(region_name="us-east-1").client(service)


@contextmanager
def codedeploy_expects(status: str) -> Iterator[Any]:
    """A CodeDeploy client that accepts exactly one status report: `status` for EVENT."""
    codedeploy = client("codedeploy")
    with Stubber(codedeploy) as stub:
        stub.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"]},
            {
                "deploymentId": EVENT["DeploymentId"],
                "lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"],
                "status": status,
            },
        )
        yield codedeploy
        stub.assert_no_pending_responses()


class ApiVersion:
    """The version under test: the deployed API handler over in-memory ports, invoked qualified."""

    def __init__(self, metas: InMemoryMetas | None = None) -> None:
        self.metas = metas or InMemoryMetas()
        service = DatasetService(
            metas=self.metas,
            artifacts=InMemoryArtifacts(),
            queue=RecordingQueue(),
            now=lambda: NOW,
            green_weight=lambda: 0,
            idempotency=InMemoryIdempotency(),
        )
        self.handler = make_handler(SETTINGS, service=service)
        self.requests: list[str] = []

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(event["routeKey"])
        context = new_context("csvprof-api", memory_mb=256, timeout_s=10, region="us-east-1")
        return self.handler(json.loads(json.dumps(event)), qualified_context(context, alias="7", version="7"))


class MetasDown(InMemoryMetas):
    def load(self, dataset_id: DatasetId) -> Versioned | None:
        raise ConnectionError("a bug in the new version")

    def list(self, limit: int, after: DatasetId | None) -> tuple[list[Any], DatasetId | None]:
        raise ConnectionError("a bug in the new version")


# --- before allow traffic ------------------------------------------------------------------


def test_a_healthy_version_passes_the_smoke_test_and_succeeds() -> None:
    version = ApiVersion()
    with codedeploy_expects("Succeeded") as codedeploy:
        handler = make_before_handler(
            CanarySettings(), invoker=version, reporter=CodeDeployHookReporter(codedeploy)
        )
        summary = handler(EVENT, new_context("hook", memory_mb=128, timeout_s=60, region="us-east-1"))
    assert summary["passed"] is True
    assert version.requests == ["GET /datasets", "POST /datasets", "GET /datasets/{dataset_id}"]
    # What it created is marked with the deployment, for whoever cleans up.
    [(meta, _)] = version.metas.stored.values()
    assert meta.name == canary_name("d-CANARY123") == "canary-d-CANARY123.csv"


def test_a_retried_hook_reads_back_the_same_dataset() -> None:
    version = ApiVersion()
    for _ in range(2):
        with codedeploy_expects("Succeeded") as codedeploy:
            make_before_handler(
                CanarySettings(), invoker=version, reporter=CodeDeployHookReporter(codedeploy)
            )(EVENT, new_context("hook", memory_mb=128, timeout_s=60, region="us-east-1"))
    assert len(version.metas.stored) == 1  # the Idempotency-Key is the deployment's


def test_a_version_that_answers_500_fails_the_deployment() -> None:
    version = ApiVersion(MetasDown())
    with codedeploy_expects("Failed") as codedeploy:
        handler = make_before_handler(
            CanarySettings(), invoker=version, reporter=CodeDeployHookReporter(codedeploy)
        )
        summary = handler(EVENT, new_context("hook", memory_mb=128, timeout_s=60, region="us-east-1"))
    assert summary == {"deployment_id": "d-CANARY123", "passed": False, "checks": ["GET /datasets?limit=1"]}


def test_a_version_that_cannot_be_invoked_fails_the_deployment() -> None:
    class Crashing:
        def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
            raise InvokeFailed("csvprof-api:7 Unhandled")

    with codedeploy_expects("Failed") as codedeploy:
        summary = make_before_handler(
            CanarySettings(), invoker=Crashing(), reporter=CodeDeployHookReporter(codedeploy)
        )(EVENT, new_context("hook", memory_mb=128, timeout_s=60, region="us-east-1"))
    assert summary["passed"] is False


def test_an_event_that_is_not_a_hook_event_is_refused() -> None:
    with pytest.raises(ValueError, match="lifecycle hook event"):
        HookEvent.parse({"DeploymentId": "d-1"})


def _payload(body: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(body).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_the_lambda_invoker_invokes_the_version_and_reports_a_function_error() -> None:
    lam = client("lambda")
    answer = {"statusCode": 200, "body": "{}"}
    expected = {"FunctionName": "csvprof-t-api", "Qualifier": "7", "InvocationType": "RequestResponse"}
    with Stubber(lam) as stub:
        stub.add_response(
            "invoke", {"StatusCode": 200, "Payload": _payload(answer)}, {**expected, "Payload": b'{"a": 1}'}
        )
        stub.add_response(
            "invoke",
            {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload({"errorMessage": "boom"})},
            {**expected, "Payload": b'{"a": 1}'},
        )
        invoker = LambdaVersionInvoker(lam, "csvprof-t-api", "7")
        assert invoker.invoke({"a": 1}) == answer
        with pytest.raises(InvokeFailed, match="Unhandled"):
            invoker.invoke({"a": 1})


# --- after allow traffic -------------------------------------------------------------------


def _alarm(name: str, state: str) -> dict[str, Any]:
    return {"AlarmName": name, "StateValue": state}


def run_after(states: list[dict[str, Any]], expected_status: str) -> dict[str, Any]:
    cloudwatch = client("cloudwatch")
    with Stubber(cloudwatch) as stub, codedeploy_expects(expected_status) as codedeploy:
        stub.add_response(
            "describe_alarms",
            {"MetricAlarms": states, "CompositeAlarms": []},
            {"AlarmNames": list(ALARMS), "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
        )
        handler = make_after_handler(
            CanarySettings(alarm_names=ALARMS),
            alarms=CloudWatchAlarmReader(cloudwatch),
            reporter=CodeDeployHookReporter(codedeploy),
        )
        return handler(EVENT, new_context("hook", memory_mb=128, timeout_s=60, region="us-east-1"))


def test_quiet_alarms_succeed() -> None:
    assert run_after([_alarm(ALARMS[0], "OK"), _alarm(ALARMS[1], "INSUFFICIENT_DATA")], "Succeeded")["passed"]


def test_an_alarm_in_alarm_fails_the_deployment() -> None:
    assert not run_after([_alarm(ALARMS[0], "OK"), _alarm(ALARMS[1], "ALARM")], "Failed")["passed"]


def test_a_missing_alarm_fails_the_deployment() -> None:
    # Nothing would have watched the shift.
    assert not run_after([_alarm(ALARMS[0], "OK")], "Failed")["passed"]


def test_the_hook_settings_come_from_the_environment() -> None:
    settings = CanarySettings.from_env(
        {
            "CSVPROF_CANARY_FUNCTION": "csvprof-t-api",
            "CSVPROF_CANARY_VERSION": "7",
            "CSVPROF_CANARY_ALARMS": " a, b ,",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert (settings.api_function, settings.version, settings.alarm_names, settings.region) == (
        "csvprof-t-api",
        "7",
        ("a", "b"),
        "eu-west-1",
    )
    assert HookStatus.FAILED.value == "Failed"


# --- the checks agree with the published schemas -------------------------------------------


def _examples(schema: str, kind: str) -> list[tuple[str, Any]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted((EXAMPLES / schema).glob(f"*.{kind}.json"))]


@pytest.mark.parametrize(
    ("schema", "check"),
    [
        ("meta", check_meta),
        ("api-dataset-list", check_dataset_list),
        ("api-dataset-accepted", check_accepted),
    ],
)
def test_every_passing_contract_example_passes_the_canary_checks(schema: str, check: Any) -> None:
    for _name, body in _examples(schema, "pass"):
        check(body)


# The key fields the canary checks; formats (UTC timestamps) and cross-field rules beyond a
# FAILED meta's error are left to the contract tests, which run on every build.
CAUGHT = {
    "meta": {
        "extra-property.fail.json",
        "failed-without-error.fail.json",
        "unknown-status.fail.json",
        "uppercase-dataset-id.fail.json",
    },
    "api-dataset-list": {"invalid-item.fail.json", "no-token-field.fail.json"},
    "api-dataset-accepted": {"absolute-link.fail.json", "missing-links.fail.json"},
}


@pytest.mark.parametrize(
    ("schema", "check"),
    [
        ("meta", check_meta),
        ("api-dataset-list", check_dataset_list),
        ("api-dataset-accepted", check_accepted),
    ],
)
def test_the_failing_contract_examples_the_canary_catches(schema: str, check: Any) -> None:
    caught = set()
    for name, body in _examples(schema, "fail"):
        try:
            check(body)
        except CanaryCheckFailed:
            caught.add(name)
    assert caught == CAUGHT[schema]
