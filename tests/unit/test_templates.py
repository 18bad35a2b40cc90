"""The CloudFormation templates keep the promises of docs/ and limits.py.

Templates are read with a CloudFormation-aware loader (`!Ref`, `!GetAtt`, `!Sub`, ...);
docs/runtime.md, docs/observability.md and contracts/openapi.yaml are parsed here too, so
a number changed on one side only fails this file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from csvprof import limits
from csvprof.deploy.cfn_yaml import load_template
from csvprof.deploy.outputs import (
    ALARMS,
    CANARY_ALARMS,
    DEPLOY_ORDER,
    OUTPUTS,
    STATEFUL,
    Stack,
    template_path,
)
from csvprof.handlers.api import ROUTES as API_ROUTES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


@cache
def template(stack: Stack) -> dict[str, Any]:
    return load_template(template_path(stack))


def resources(stack: Stack, type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template(stack)["Resources"].items() if v["Type"] == type_name}


def default(stack: Stack, parameter: str) -> str:
    return str(template(stack)["Parameters"][parameter]["Default"])


def ref(value: Any) -> str:
    assert isinstance(value, dict), value
    assert set(value) == {"Ref"}, value
    return str(value["Ref"])


# --- docs/runtime.md ---------------------------------------------------------------------


@cache
def runtime_doc() -> dict[str, int]:
    """constant -> the number docs/runtime.md's table states (MB, s, days -> s, counts)."""
    values: dict[str, int] = {}
    for line in (DOCS / "runtime.md").read_text().splitlines():
        match = re.match(r"\|[^|]+\|\s*([\d,]+)\s*(MB|s|days|MiB|GiB)?\s*\|\s*`(\w+)`", line)
        if match:
            number, unit, constant = int(match[1].replace(",", "")), match[2], match[3]
            values[constant] = number * 86400 if unit == "days" else number
    return values


# (constant, stack, parameter the template uses for it)
RUNTIME_PARAMETERS = [
    ("API_MEMORY_MB", Stack.COMPUTE, "ApiMemoryMB"),
    ("API_TIMEOUT_S", Stack.COMPUTE, "ApiTimeoutSeconds"),
    ("WORKER_MEMORY_MB", Stack.COMPUTE, "WorkerMemoryMB"),
    ("WORKER_TIMEOUT_S", Stack.COMPUTE, "WorkerTimeoutSeconds"),
    ("SQS_BATCH_SIZE", Stack.COMPUTE, "SqsBatchSize"),
    ("RECONCILER_MEMORY_MB", Stack.COMPUTE, "ReconcilerMemoryMB"),
    ("RECONCILER_TIMEOUT_S", Stack.COMPUTE, "ReconcilerTimeoutSeconds"),
    ("SQS_VISIBILITY_TIMEOUT_S", Stack.MESSAGING, "VisibilityTimeoutSeconds"),
    ("SQS_MAX_RECEIVE_COUNT", Stack.MESSAGING, "MaxReceiveCount"),
    ("DLQ_RETENTION_S", Stack.MESSAGING, "DlqRetentionSeconds"),
    ("API_RESERVED_CONCURRENCY", Stack.COMPUTE, "ApiReservedConcurrency"),
    ("WORKER_RESERVED_CONCURRENCY", Stack.COMPUTE, "WorkerReservedConcurrency"),
]


@pytest.mark.parametrize(("constant", "stack", "parameter"), RUNTIME_PARAMETERS)
def test_runtime_numbers_are_the_template_defaults(constant: str, stack: Stack, parameter: str) -> None:
    documented = runtime_doc()[constant]
    assert documented == getattr(limits, constant)
    assert int(default(stack, parameter)) == documented


@pytest.mark.parametrize(
    ("function", "memory", "timeout", "handler"),
    [
        ("ApiFunction", "ApiMemoryMB", "ApiTimeoutSeconds", "csvprof.handlers.api.handler"),
        ("WorkerFunction", "WorkerMemoryMB", "WorkerTimeoutSeconds", "csvprof.handlers.worker.handler"),
        (
            "ReconcilerFunction",
            "ReconcilerMemoryMB",
            "ReconcilerTimeoutSeconds",
            "csvprof.handlers.reconciler.handler",
        ),
    ],
)
def test_functions_use_the_documented_runtime(function: str, memory: str, timeout: str, handler: str) -> None:
    text = (DOCS / "runtime.md").read_text()
    assert f"**{limits.LAMBDA_RUNTIME}** on **{limits.LAMBDA_ARCHITECTURE}**" in text
    props = template(Stack.COMPUTE)["Resources"][function]["Properties"]
    assert props["Runtime"] == limits.LAMBDA_RUNTIME
    assert props["Architectures"] == [limits.LAMBDA_ARCHITECTURE]
    assert ref(props["MemorySize"]) == memory
    assert ref(props["Timeout"]) == timeout
    assert props["Handler"] == handler
    assert props["TracingConfig"] == {"Mode": "Active"}


def test_queue_visibility_is_six_worker_timeouts() -> None:
    visibility = int(default(Stack.MESSAGING, "VisibilityTimeoutSeconds"))
    assert visibility == 6 * int(default(Stack.COMPUTE, "WorkerTimeoutSeconds"))


def test_worker_environment_names_are_the_config_names() -> None:
    from csvprof.config import Settings

    # Lambda sets AWS_REGION; the weight comes from the routing parameter, not a fixed variable.
    expected = set(Settings("b", "q1", "q2", "e", routing_parameter="p").to_env()) - {
        "AWS_REGION",
        "CSVPROF_GREEN_WEIGHT",
    }
    for function in ("ApiFunction", "WorkerFunction", "ReconcilerFunction"):
        variables = template(Stack.COMPUTE)["Resources"][function]["Properties"]["Environment"]["Variables"]
        needed = expected - ({"CSVPROF_ROUTING_PARAMETER"} if function != "ApiFunction" else set())
        assert needed <= set(variables), (function, needed - set(variables))


# --- messaging -----------------------------------------------------------------------------


@pytest.mark.parametrize("queue", ["BlueQueue", "GreenQueue"])
def test_work_queues_redrive_to_the_dlq(queue: str) -> None:
    props = template(Stack.MESSAGING)["Resources"][queue]["Properties"]
    assert ref(props["VisibilityTimeout"]) == "VisibilityTimeoutSeconds"
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    assert props["SqsManagedSseEnabled"] is True


def test_dlq_bus_archive_and_routing_parameter() -> None:
    res = template(Stack.MESSAGING)["Resources"]
    assert ref(res["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"]) == "DlqRetentionSeconds"
    assert res["EventArchive"]["Properties"]["SourceArn"] == {"Fn::GetAtt": ["EventBus", "Arn"]}
    routing = res["RoutingParameter"]["Properties"]
    assert ref(routing["Value"]) == "GreenWeight"
    params = template(Stack.MESSAGING)["Parameters"]["GreenWeight"]
    assert (params["MinValue"], params["MaxValue"], params["Default"]) == (0, 100, 0)


# --- event sources -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "alias", "queue"),
    [
        ("BlueEventSource", "WorkerBlueAlias", "BlueQueueArn"),
        ("GreenEventSource", "WorkerGreenAlias", "GreenQueueArn"),
    ],
)
def test_each_queue_feeds_its_worker_alias(mapping: str, alias: str, queue: str) -> None:
    props = template(Stack.COMPUTE)["Resources"][mapping]["Properties"]
    assert ref(props["BatchSize"]) == "SqsBatchSize"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert ref(props["FunctionName"]) == alias
    assert props["EventSourceArn"] == {"Fn::ImportValue": {"Fn::Sub": f"${{Name}}-{queue}"}}


# --- concurrency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "parameter"),
    [("ApiFunction", "ApiReservedConcurrency"), ("WorkerFunction", "WorkerReservedConcurrency")],
)
def test_functions_reserve_their_concurrency(function: str, parameter: str) -> None:
    props = template(Stack.COMPUTE)["Resources"][function]["Properties"]
    assert ref(props["ReservedConcurrentExecutions"]) == parameter
    spec = template(Stack.COMPUTE)["Parameters"][parameter]
    # 0 would stop the function outright: every allowed value reserves at least one execution.
    assert spec["Type"] == "Number"
    assert min(spec.get("AllowedValues", [spec.get("MinValue", 0)])) >= 1


def _maximum_concurrency(mapping: dict[str, Any], reservation: int) -> int:
    """A mapping's ScalingConfig.MaximumConcurrency with WorkerReservedConcurrency = reservation."""
    value = mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    table, key, attribute = value["Fn::FindInMap"]
    assert ref(key) == "WorkerReservedConcurrency"
    return int(template(Stack.COMPUTE)["Mappings"][table][str(reservation)][attribute])


def test_worker_mappings_never_exceed_the_worker_reservation() -> None:
    # A mapping that outruns the reservation gets throttled invocations, and a throttled SQS
    # delivery can count as a receive towards the DLQ (docs/runtime.md).
    mappings = resources(Stack.COMPUTE, "AWS::Lambda::EventSourceMapping")
    assert {ref(m["Properties"]["FunctionName"]) for m in mappings.values()} == {
        "WorkerBlueAlias",
        "WorkerGreenAlias",
    }
    spec = template(Stack.COMPUTE)["Parameters"]["WorkerReservedConcurrency"]
    allowed = [int(v) for v in spec["AllowedValues"]]
    assert int(spec["Default"]) in allowed
    assert set(template(Stack.COMPUTE)["Mappings"]["WorkerConcurrency"]) == {str(v) for v in allowed}
    for reservation in allowed:
        each = [_maximum_concurrency(m, reservation) for m in mappings.values()]
        assert all(2 <= c <= 1000 for c in each), (reservation, each)  # Lambda's bounds
        assert sum(each) <= reservation, (reservation, each)
    defaults = {_maximum_concurrency(m, int(spec["Default"])) for m in mappings.values()}
    assert defaults == {limits.WORKER_QUEUE_MAX_CONCURRENCY}
    assert runtime_doc()["WORKER_QUEUE_MAX_CONCURRENCY"] == limits.WORKER_QUEUE_MAX_CONCURRENCY


# --- policy checks (checkov) -------------------------------------------------------------------


def suppressions() -> list[tuple[str, str, str, str]]:
    """(stack, resource, check id, comment) of every checkov skip in the templates' metadata."""
    found = []
    for stack in Stack:
        for name, resource in template(stack)["Resources"].items():
            metadata = resource.get("Metadata", {})
            assert "bridgecrew" not in metadata, (stack, name)  # one spelling: checkov's
            for skip in metadata.get("checkov", {}).get("skip", []):
                assert set(skip) == {"id", "comment"}, (stack, name, skip)
                found.append((stack.value, name, skip["id"], skip["comment"]))
    return found


def test_every_checkov_suppression_has_a_reason() -> None:
    assert suppressions()
    for stack, name, check, comment in suppressions():
        assert re.fullmatch(r"CKV2?_AWS_\d+", check), (stack, name, check)
        assert isinstance(comment, str), (stack, name, check)
        assert len(comment.split()) >= 10, f"{stack} {name} {check}: say why, not just that"


def test_the_documented_suppressions_are_the_template_suppressions() -> None:
    text = (DOCS / "deployment-strategy.md").read_text()
    table = text.split("## Policy checks", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        check = re.match(r"`(CKV2?_AWS_\d+)`", cells[0])
        if len(cells) == 4 and check:
            stack = cells[1].strip("`")
            assert cells[3], line  # the reason
            documented |= {(stack, name, check[1]) for name in re.findall(r"`(\w+)`", cells[2])}
    assert documented == {(stack, name, check) for stack, name, check, _ in suppressions()}


def test_api_alias_is_shifted_by_codedeploy() -> None:
    live = template(Stack.COMPUTE)["Resources"]["ApiLiveAlias"]
    assert live["Properties"]["Name"] == "live"
    policy = live["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group = template(Stack.API)["Resources"]["LiveDeploymentGroup"]["Properties"]
    app = template(Stack.API)["Resources"]["CodeDeployApplication"]["Properties"]
    assert policy["ApplicationName"] == app["ApplicationName"]
    assert policy["DeploymentGroupName"] == group["DeploymentGroupName"]
    assert app["ComputePlatform"] == "Lambda"
    assert default(Stack.API, "DeploymentConfigName") == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    watched = {a["Name"]["Fn::Sub"] for a in group["AlarmConfiguration"]["Alarms"]}
    # docs/deployment-strategy.md: CodeDeploy watches these five, the hooks and canary read them.
    assert watched == {f"${{Name}}-{alarm}" for alarm in CANARY_ALARMS}
    assert {"api-live-5xx", "api-live-latency-p99"} <= set(CANARY_ALARMS) <= set(ALARMS)


# --- storage -------------------------------------------------------------------------------


def test_bucket_is_encrypted_private_versioned_and_retained() -> None:
    bucket = template(Stack.STORAGE)["Resources"]["Bucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    props = bucket["Properties"]
    sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] in ("AES256", "aws:kms")
    # S3 Bucket Keys: one data-key request per bucket, not per object (LocalStack drops it).
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["BucketKeyEnabled"] is True
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    [raw] = [r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "raw/"]
    assert raw["Status"] == "Enabled"
    assert ref(raw["ExpirationInDays"]) == "RawRetentionDays"
    [idem] = [r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == "idempotency/"]
    assert idem["Status"] == "Enabled"
    assert ref(idem["ExpirationInDays"]) == "IdempotencyRetentionDays"
    # docs/data-contracts.md: a key is honoured at least 24 h.
    assert int(default(Stack.STORAGE, "IdempotencyRetentionDays")) >= 1


def test_bucket_policy_denies_plain_http() -> None:
    [policy] = resources(Stack.STORAGE, "AWS::S3::BucketPolicy").values()
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", "*", "s3:*")
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["Bucket", "Arn"]} in statement["Resource"]
    assert {"Fn::Sub": "${Bucket.Arn}/*"} in statement["Resource"]


# --- IAM -----------------------------------------------------------------------------------


def _resource_name(value: Any) -> str:
    """A readable form of a policy resource: imports become <ExportSuffix>."""
    if isinstance(value, str):
        return value
    if "Fn::ImportValue" in value:
        return "<" + value["Fn::ImportValue"]["Fn::Sub"].removeprefix("${Name}-") + ">"
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        if isinstance(sub, str):
            return sub
        text, variables = sub
        for key, inner in variables.items():
            text = text.replace("${" + key + "}", _resource_name(inner))
        return str(text)
    raise AssertionError(f"unexpected resource {value!r}")


def grants(role: str) -> set[tuple[str, str]]:
    props = template(Stack.COMPUTE)["Resources"][role]["Properties"]
    assert "ManagedPolicyArns" not in props
    found: set[tuple[str, str]] = set()
    for policy in props["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for action in actions:
                assert "*" not in action, f"{role}: wildcard action {action}"
                for target in targets:
                    found.add((action, _resource_name(target)))
    return found


LOGS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/${Name}-%s:*"
COMMON = {
    ("xray:PutTraceSegments", "*"),  # X-Ray has no resource-level permissions
    ("xray:PutTelemetryRecords", "*"),
}


def test_api_role_is_least_privilege() -> None:
    assert grants("ApiRole") == COMMON | {
        ("s3:PutObject", "<BucketArn>/raw/*"),
        ("s3:PutObject", "<BucketArn>/meta/*"),
        ("s3:GetObject", "<BucketArn>/meta/*"),
        ("s3:GetObject", "<BucketArn>/profiles/*"),
        ("s3:GetObject", "<BucketArn>/raw/*"),  # HeadObject on a completed upload
        ("s3:PutObject", "<BucketArn>/idempotency/*"),  # Idempotency-Key records
        ("s3:GetObject", "<BucketArn>/idempotency/*"),
        # GET /datasets, and a missing key answers 404 rather than 403 (see compute.yaml)
        ("s3:ListBucket", "<BucketArn>"),
        ("sqs:SendMessage", "<BlueQueueArn>"),
        ("sqs:SendMessage", "<GreenQueueArn>"),
        (
            "ssm:GetParameter",
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter<RoutingParameterName>",
        ),
        ("logs:CreateLogStream", LOGS % "api"),
        ("logs:PutLogEvents", LOGS % "api"),
    }


def test_worker_role_is_least_privilege() -> None:
    consume = {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }
    assert grants("WorkerRole") == COMMON | {
        ("s3:GetObject", "<BucketArn>/raw/*"),
        ("s3:ListBucket", "<BucketArn>"),  # missing keys answer 404, not 403
        ("s3:GetObject", "<BucketArn>/profiles/*"),
        ("s3:PutObject", "<BucketArn>/profiles/*"),
        ("s3:GetObject", "<BucketArn>/meta/*"),
        ("s3:PutObject", "<BucketArn>/meta/*"),
        *((action, f"<{q}QueueArn>") for action in consume for q in ("Blue", "Green")),
        ("events:PutEvents", "<EventBusArn>"),
        ("logs:CreateLogStream", LOGS % "worker"),
        ("logs:PutLogEvents", LOGS % "worker"),
    }


HOOK_STATUS = (
    "codedeploy:PutLifecycleEventHookExecutionStatus",
    "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${Name}-api/${Name}-api-live",
)


def test_hook_roles_are_least_privilege() -> None:
    hook_logs = LOGS.replace("${Name}-%s", "CodeDeployHook_${Name}-%s")
    assert grants("BeforeTrafficHookRole") == COMMON | {
        HOOK_STATUS,
        # The API function's versions (qualified ARNs), never another function.
        (
            "lambda:InvokeFunction",
            "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${Name}-api:*",
        ),
        ("logs:CreateLogStream", hook_logs % "before"),
        ("logs:PutLogEvents", hook_logs % "before"),
    }
    assert grants("AfterTrafficHookRole") == COMMON | {
        HOOK_STATUS,
        (
            "cloudwatch:DescribeAlarms",
            "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${Name}-api-*",
        ),
        ("logs:CreateLogStream", hook_logs % "after"),
        ("logs:PutLogEvents", hook_logs % "after"),
    }
    group = template(Stack.API)["Resources"]["LiveDeploymentGroup"]["Properties"]
    app = template(Stack.API)["Resources"]["CodeDeployApplication"]["Properties"]
    assert HOOK_STATUS[1].endswith(
        f"{app['ApplicationName']['Fn::Sub']}/{group['DeploymentGroupName']['Fn::Sub']}"
    )
    assert all(alarm.startswith("api-") for alarm in CANARY_ALARMS)  # DescribeAlarms' ${Name}-api-*


def test_the_live_alias_runs_the_hooks_with_this_deployments_version_and_alarms() -> None:
    import csvprof.handlers.hooks as hooks

    res = template(Stack.COMPUTE)["Resources"]
    policy = res["ApiLiveAlias"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert ref(policy["BeforeAllowTrafficHook"]) == "BeforeTrafficHookFunction"
    assert ref(policy["AfterAllowTrafficHook"]) == "AfterTrafficHookFunction"
    longest = "a" * 41  # the Name parameter's AllowedPattern allows 41 characters
    for function, handler in (
        ("BeforeTrafficHookFunction", "before_traffic"),
        ("AfterTrafficHookFunction", "after_traffic"),
    ):
        props = res[function]["Properties"]
        name = props["FunctionName"]["Fn::Sub"]
        # CodeDeploy's managed role invokes only CodeDeployHook_* functions; Lambda allows 64 characters.
        assert name.startswith("CodeDeployHook_")
        assert len(name.replace("${Name}", longest)) <= 64
        assert props["Handler"] == f"csvprof.handlers.hooks.{handler}"
        assert callable(getattr(hooks, handler))
        assert (props["Runtime"], props["Architectures"]) == (
            limits.LAMBDA_RUNTIME,
            [limits.LAMBDA_ARCHITECTURE],
        )
    before = res["BeforeTrafficHookFunction"]["Properties"]["Environment"]["Variables"]
    assert before["CSVPROF_CANARY_VERSION"] == {"Fn::GetAtt": ["ApiVersion", "Version"]}
    assert ref(before["CSVPROF_CANARY_FUNCTION"]) == "ApiFunction"
    after = res["AfterTrafficHookFunction"]["Properties"]["Environment"]["Variables"]
    assert after["CSVPROF_CANARY_ALARMS"] == {"Fn::Sub": ",".join(f"${{Name}}-{a}" for a in CANARY_ALARMS)}


def test_reconciler_role_is_least_privilege() -> None:
    assert grants("ReconcilerRole") == COMMON | {
        ("s3:ListBucket", "<BucketArn>"),  # conditioned on the meta/ prefix
        ("s3:GetObject", "<BucketArn>/meta/*"),
        ("s3:PutObject", "<BucketArn>/meta/*"),
        ("sqs:SendMessage", "<BlueQueueArn>"),
        ("sqs:SendMessage", "<GreenQueueArn>"),
        ("events:PutEvents", "<EventBusArn>"),
        ("logs:CreateLogStream", LOGS % "reconciler"),
        ("logs:PutLogEvents", LOGS % "reconciler"),
    }
    statements = template(Stack.COMPUTE)["Resources"]["ReconcilerRole"]["Properties"]["Policies"][0]
    [listing] = [s for s in statements["PolicyDocument"]["Statement"] if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "meta/*"}}


# --- the reconciler's schedule -------------------------------------------------------------


def test_the_reconciler_runs_on_the_documented_schedule() -> None:
    res = template(Stack.COMPUTE)["Resources"]
    rule = res["ReconcilerSchedule"]["Properties"]
    assert rule["State"] == "ENABLED"
    assert ref(rule["ScheduleExpression"]) == "ReconcileSchedule"
    assert default(Stack.COMPUTE, "ReconcileSchedule") == f"rate({limits.RECONCILE_INTERVAL_S // 60} minutes)"
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ReconcilerFunction", "Arn"]}
    permission = res["ReconcilerInvokePermission"]["Properties"]
    assert (permission["Action"], permission["Principal"]) == (
        "lambda:InvokeFunction",
        "events.amazonaws.com",
    )
    assert ref(permission["FunctionName"]) == "ReconcilerFunction"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["ReconcilerSchedule", "Arn"]}
    # A run must end well before the next one starts.
    assert limits.RECONCILER_TIMEOUT_S < limits.RECONCILE_INTERVAL_S


def test_the_reconciler_counts_leases_in_the_queues_own_numbers() -> None:
    variables = template(Stack.COMPUTE)["Resources"]["ReconcilerFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    for variable, output in (
        ("CSVPROF_MAX_RECEIVE_COUNT", "MaxReceiveCount"),
        ("CSVPROF_VISIBILITY_TIMEOUT_S", "VisibilityTimeoutSeconds"),
    ):
        assert variables[variable] == {"Fn::ImportValue": {"Fn::Sub": f"${{Name}}-{output}"}}
        assert template(Stack.MESSAGING)["Outputs"][output]["Value"] == {"Ref": output}


# --- API -----------------------------------------------------------------------------------


def openapi_routes() -> set[str]:
    spec = yaml.safe_load((ROOT / "contracts" / "openapi.yaml").read_text())
    methods = {"get", "post", "put", "delete", "patch"}
    return {f"{m.upper()} {path}" for path, ops in spec["paths"].items() for m in ops if m in methods}


def test_routes_are_the_openapi_routes_and_all_use_iam() -> None:
    routes = resources(Stack.API, "AWS::ApiGatewayV2::Route")
    assert {r["Properties"]["RouteKey"] for r in routes.values()} == openapi_routes()
    assert set(API_ROUTES) == openapi_routes()  # what the local gateway serves
    for name, route in routes.items():
        assert route["Properties"]["AuthorizationType"] == "AWS_IAM", name
        assert route["Properties"]["Target"] == {"Fn::Sub": "integrations/${LiveIntegration}"}, name


def test_integration_targets_the_live_alias_with_payload_2() -> None:
    props = template(Stack.API)["Resources"]["LiveIntegration"]["Properties"]
    assert props["IntegrationType"] == "AWS_PROXY"
    assert props["PayloadFormatVersion"] == "2.0"
    assert props["IntegrationUri"] == {"Fn::ImportValue": {"Fn::Sub": "${Name}-ApiLiveAliasArn"}}
    stage = template(Stack.API)["Resources"]["DefaultStage"]["Properties"]
    assert stage["AccessLogSettings"]["DestinationArn"] == {
        "Fn::ImportValue": {"Fn::Sub": "${Name}-AccessLogGroupArn"}
    }


# --- observability -------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentedAlarm:
    namespace: str
    metric: str
    statistic: str | None  # "Sum", "Maximum", "p99", or None when the doc does not say
    threshold: float
    evaluation_periods: int
    period_s: int


@cache
def documented_alarms() -> dict[str, DocumentedAlarm]:
    """The Alarms table of docs/observability.md, one entry per alarm name."""
    text = (DOCS / "observability.md").read_text()
    table = text.split("## Alarms", 1)[1].split("\n## ", 1)[0]
    alarms: dict[str, DocumentedAlarm] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("alarm", "") or set(cells[0]) <= {"-"}:
            continue
        names, metric, condition = cells
        namespace, metric_name = re.findall(r"`([^`]+)`", metric)[:2]
        threshold = re.search(r">\s*([\d,]+)", condition)
        periods = re.search(r"(\d+) periods? of ([\d,]+) s", condition)
        assert threshold, line
        assert periods, line
        statistic = "p99" if "p99" in metric else "Maximum" if " max" in metric else None
        statistic = "Sum" if condition.startswith("sum") else statistic
        for name in (n.strip() for n in names.split(",")):
            alarms[name] = DocumentedAlarm(
                namespace=namespace,
                metric=metric_name,
                statistic=statistic,
                threshold=float(threshold[1].replace(",", "")),
                evaluation_periods=int(periods[1]),
                period_s=int(periods[2].replace(",", "")),
            )
    return alarms


def template_alarms() -> dict[str, dict[str, Any]]:
    found = {}
    for alarm in resources(Stack.OBSERVABILITY, "AWS::CloudWatch::Alarm").values():
        found[alarm["Properties"]["AlarmName"]["Fn::Sub"].removeprefix("${Name}-")] = alarm
    return found


def test_the_documented_alarms_are_the_template_alarms() -> None:
    assert set(documented_alarms()) == set(template_alarms()) == set(ALARMS)


@pytest.mark.parametrize("name", ALARMS)
def test_alarm_matches_the_doc(name: str) -> None:
    doc = documented_alarms()[name]
    props = template_alarms()[name]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (doc.namespace, doc.metric)
    statistic = props.get("Statistic") or props.get("ExtendedStatistic")
    if doc.statistic is not None:
        assert statistic == doc.statistic
    threshold, period = ref(props["Threshold"]), ref(props["Period"])
    assert float(default(Stack.OBSERVABILITY, threshold)) == doc.threshold
    assert int(default(Stack.OBSERVABILITY, period)) == doc.period_s
    evaluations = props["EvaluationPeriods"]
    evaluations = (
        int(default(Stack.OBSERVABILITY, ref(evaluations))) if isinstance(evaluations, dict) else evaluations
    )
    assert evaluations == doc.evaluation_periods
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": "AlarmTopic"}]


def test_worker_duration_alarm_is_eighty_percent_of_the_timeout() -> None:
    assert documented_alarms()["worker-duration"].threshold == 0.8 * limits.WORKER_TIMEOUT_S * 1000


def test_profiles_failed_alarm_watches_the_worker_service() -> None:
    from csvprof.observability import NAMESPACE, WorkerMetric

    props = template_alarms()["profiles-failed"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (NAMESPACE, WorkerMetric.PROFILES_FAILED.value)
    assert props["Dimensions"] == [{"Name": "service", "Value": "csvprof-worker"}]


@pytest.mark.parametrize("route", ["blue", "green"])
def test_worker_failures_alarms_watch_one_route_each(route: str) -> None:
    from csvprof.observability import NAMESPACE, ROUTE_DIMENSION, WorkerMetric

    props = template_alarms()[f"worker-failures-{route}"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (NAMESPACE, WorkerMetric.DELIVERIES_FAILED.value)
    assert props["Dimensions"] == [
        {"Name": "service", "Value": "csvprof-worker"},
        {"Name": ROUTE_DIMENSION, "Value": route},
    ]


@pytest.mark.parametrize(
    ("alarm", "metric"), [("api-live-5xx", "RESPONSES_5XX"), ("api-live-latency-p99", "LATENCY_MS")]
)
def test_canary_alarms_watch_the_live_alias_answers(alarm: str, metric: str) -> None:
    from csvprof.observability import ALIAS_DIMENSION, NAMESPACE, ApiVersionMetric

    props = template_alarms()[alarm]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (NAMESPACE, ApiVersionMetric[metric].value)
    # Exactly the service + Alias dimension set the API handler emits (an alarm matches exactly).
    assert props["Dimensions"] == [
        {"Name": "service", "Value": "csvprof-api"},
        {"Name": ALIAS_DIMENSION, "Value": "live"},
    ]
    alias = template(Stack.COMPUTE)["Resources"]["ApiLiveAlias"]["Properties"]["Name"]
    assert alias == "live"


def test_datasets_reconciled_alarm_watches_the_reconciler_service() -> None:
    from csvprof.observability import NAMESPACE, ReconcilerMetric

    props = template_alarms()["datasets-reconciled"]["Properties"]
    metric = ReconcilerMetric.DATASETS_RECONCILED.value
    assert (props["Namespace"], props["MetricName"]) == (NAMESPACE, metric)
    assert props["Dimensions"] == [{"Name": "service", "Value": "csvprof-reconciler"}]


def test_log_groups_have_retention() -> None:
    groups = resources(Stack.OBSERVABILITY, "AWS::Logs::LogGroup")
    assert len(groups) == 6
    for group in groups.values():
        assert ref(group["Properties"]["RetentionInDays"]) == "LogRetentionDays"
    names = {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups.values()}
    assert names == {
        "/aws/lambda/${Name}-api",
        "/aws/lambda/${Name}-worker",
        "/aws/lambda/${Name}-reconciler",
        "/aws/lambda/CodeDeployHook_${Name}-before",
        "/aws/lambda/CodeDeployHook_${Name}-after",
        "/aws/apigateway/${Name}-access",
    }
    functions = {
        f["Properties"]["FunctionName"]["Fn::Sub"]
        for f in resources(Stack.COMPUTE, "AWS::Lambda::Function").values()
    }
    assert {f"/aws/lambda/{f}" for f in functions} < names


# --- outputs and the order of stacks ----------------------------------------------------------


@pytest.mark.parametrize("stack", list(Stack))
def test_outputs_are_the_shared_constants_and_exported(stack: Stack) -> None:
    outputs = template(stack)["Outputs"]
    assert set(outputs) == {o.value for o in OUTPUTS[stack]}
    for key, output in outputs.items():
        assert output["Export"] == {"Name": {"Fn::Sub": f"${{Name}}-{key}"}}


def _imports(node: Any) -> set[str]:
    if isinstance(node, dict):
        if "Fn::ImportValue" in node:
            return {node["Fn::ImportValue"]["Fn::Sub"].removeprefix("${Name}-")}
        return set().union(*(_imports(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_imports(v) for v in node)) if node else set()
    return set()


@pytest.mark.parametrize("stack", list(Stack))
def test_imports_come_from_stacks_deployed_earlier(stack: Stack) -> None:
    earlier = DEPLOY_ORDER[: DEPLOY_ORDER.index(stack)]
    available = {o.value for s in earlier for o in OUTPUTS[s]}
    assert _imports(template(stack)["Resources"]) <= available


def test_stateful_stacks_hold_only_state() -> None:
    stateful_types = {
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::Queue",
        "AWS::SQS::QueuePolicy",
        "AWS::Events::EventBus",
        "AWS::Events::Archive",
        "AWS::SSM::Parameter",
    }
    for stack in Stack:
        types = {r["Type"] for r in template(stack)["Resources"].values()}
        if stack in STATEFUL:
            assert types <= stateful_types, stack
        else:
            assert not types & stateful_types, stack


def test_the_worker_last_receive_is_the_queues_max_receive_count() -> None:
    # One number, owned by messaging: a drift would let messages reach the DLQ before the
    # worker's last-receive fallback marks their dataset FAILED.
    variables = template(Stack.COMPUTE)["Resources"]["WorkerFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    assert variables["CSVPROF_MAX_RECEIVE_COUNT"] == {
        "Fn::ImportValue": {"Fn::Sub": "${Name}-MaxReceiveCount"}
    }
    exported = template(Stack.MESSAGING)["Outputs"]["MaxReceiveCount"]
    assert exported["Value"] == {"Ref": "MaxReceiveCount"}
    assert "MaxReceiveCount" not in template(Stack.COMPUTE).get("Parameters", {})
