"""csvprof.deploy: change-set deploys, plain failures, and the Lambda package build."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws

from csvprof.deploy.__main__ import main, parse_parameters, parse_stacks
from csvprof.deploy.cfn_yaml import CloudFormationLoader, load_template
from csvprof.deploy.order import deploy_stacks
from csvprof.deploy.outputs import Stack, template_path
from csvprof.deploy.package import PLATFORM, PackageError, build, pip_command, runtime_requirements
from csvprof.deploy.stacks import Deployer, DeployError, change_set_parameters, require_bucket
from csvprof.deploy.weight import read_weight, set_weight

ROOT = Path(__file__).resolve().parents[2]


def error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "op")


def declared_parameters(body: str) -> dict[str, str | None]:
    """A template's parameters and their defaults, as ValidateTemplate reports them."""
    template = yaml.load(body, Loader=CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    return {
        key: None if "Default" not in p else str(p["Default"])
        for key, p in template.get("Parameters", {}).items()
    }


class FakeCloudFormation:
    """Scripted CloudFormation: each stack walks through the statuses it is given."""

    def __init__(self, *, existing: str | None = None, after_execute: str = "CREATE_COMPLETE") -> None:
        self.status = existing
        self.after_execute = after_execute
        self.change_set_status = "CREATE_COMPLETE"
        self.change_set_reason = ""
        self.calls: list[str] = []
        self.template_error: str | None = None
        self.deployed: dict[str, str] = {}  # the existing stack's parameter values
        self.sent: list[dict[str, Any]] = []  # each change set's Parameters

    def validate_template(self, TemplateBody: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if self.template_error:
            raise error("ValidationError", self.template_error)
        return {"Parameters": [{"ParameterKey": key} for key in declared_parameters(TemplateBody)]}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        if self.status is None:
            raise error("ValidationError", f"Stack with id {StackName} does not exist")
        parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in self.deployed.items()]
        return {
            "Stacks": [
                {"StackName": StackName, "StackStatus": self.status, "Outputs": [], "Parameters": parameters}
            ]
        }

    def create_change_set(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"create_change_set {kwargs['ChangeSetType']}")
        self.sent = kwargs["Parameters"]
        return {}

    def describe_change_set(self, **kwargs: Any) -> dict[str, Any]:
        return {"Status": self.change_set_status, "StatusReason": self.change_set_reason}

    def execute_change_set(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("execute_change_set")
        self.status = self.after_execute
        return {}

    def delete_change_set(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("delete_change_set")
        return {}

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        return {
            "StackEvents": [
                {"LogicalResourceId": "Bucket", "ResourceType": "AWS::S3::Bucket",
                 "ResourceStatus": "CREATE_FAILED", "ResourceStatusReason": "bucket name already taken"},
                {"LogicalResourceId": StackName, "ResourceType": "AWS::CloudFormation::Stack",
                 "ResourceStatus": "ROLLBACK_IN_PROGRESS"},
            ]
        }  # fmt: skip

    def update_termination_protection(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"protect {kwargs['EnableTerminationProtection']}")
        return {}


def deployer(fake: FakeCloudFormation) -> Deployer:
    return Deployer(fake, poll_interval_s=0, sleep=lambda _: None, log=lambda _: None)  # type: ignore[arg-type]


STORAGE = template_path(Stack.STORAGE)


def test_a_new_stack_is_created_through_a_change_set() -> None:
    fake = FakeCloudFormation()
    result = deployer(fake).deploy("x-storage", STORAGE, {"Name": "x"}, termination_protection=True)
    assert fake.calls == ["create_change_set CREATE", "execute_change_set", "protect True"]
    assert (result.status, result.changed) == ("CREATE_COMPLETE", True)


def test_an_existing_stack_is_updated_and_no_changes_is_not_an_error() -> None:
    fake = FakeCloudFormation(existing="UPDATE_COMPLETE")
    fake.change_set_status = "FAILED"
    fake.change_set_reason = "The submitted information didn't contain changes."
    result = deployer(fake).deploy("x-storage", STORAGE, {"Name": "x"})
    assert fake.calls == ["create_change_set UPDATE", "delete_change_set"]
    assert result.changed is False


def test_a_rolled_back_stack_says_to_delete_it() -> None:
    fake = FakeCloudFormation(existing="ROLLBACK_COMPLETE")
    with pytest.raises(DeployError, match=r"ROLLBACK_COMPLETE.*delete-stack --stack-name x-storage"):
        deployer(fake).deploy("x-storage", STORAGE, {"Name": "x"})
    assert fake.calls == []


def test_a_failed_create_names_the_failing_resource() -> None:
    fake = FakeCloudFormation(after_execute="ROLLBACK_COMPLETE")
    with pytest.raises(
        DeployError, match=r"ended ROLLBACK_COMPLETE.*Bucket \(AWS::S3::Bucket\): bucket name"
    ):
        deployer(fake).deploy("x-storage", STORAGE, {"Name": "x"})


def test_a_template_error_is_reported_before_any_change() -> None:
    fake = FakeCloudFormation()
    fake.template_error = "Template format error: unresolved resource dependencies [Nope]"
    with pytest.raises(DeployError, match="template error: Template format error"):
        deployer(fake).deploy("x-storage", "Resources: {}", {})
    assert fake.calls == []


def test_a_change_set_that_fails_for_another_reason_is_an_error() -> None:
    fake = FakeCloudFormation()
    fake.change_set_status = "FAILED"
    fake.change_set_reason = "Parameter RawRetentionDays must be a number"
    with pytest.raises(DeployError, match="change set failed: Parameter RawRetentionDays"):
        deployer(fake).deploy("x-storage", STORAGE, {"Name": "x"})


def test_waiting_has_a_deadline() -> None:
    fake = FakeCloudFormation()
    fake.change_set_status = "CREATE_PENDING"
    ticks = iter(range(0, 10_000, 100))
    stuck = Deployer(fake, poll_interval_s=0, timeout_s=250, sleep=lambda _: None,  # type: ignore[arg-type]
                     clock=lambda: float(next(ticks)), log=lambda _: None)  # fmt: skip
    with pytest.raises(DeployError, match="still CREATE_PENDING after 250"):
        stuck.deploy("x-storage", STORAGE, {"Name": "x"})


# --- parameters: an update keeps what is deployed ----------------------------------------------


def test_a_create_sends_only_the_parameters_given() -> None:
    assert change_set_parameters(["Name", "A", "B"], {"Name": "x"}, None) == [
        {"ParameterKey": "Name", "ParameterValue": "x"}
    ]


def test_an_update_keeps_every_deployed_value_not_given() -> None:
    sent = change_set_parameters(["Name", "A", "B"], {"Name": "x", "A": "1"}, ["Name", "A", "B"])
    assert sent == [
        {"ParameterKey": "Name", "ParameterValue": "x"},
        {"ParameterKey": "A", "ParameterValue": "1"},
        {"ParameterKey": "B", "UsePreviousValue": True},
    ]


def test_a_parameter_new_to_the_template_gets_its_default_on_an_update() -> None:
    # CloudFormation rejects UsePreviousValue for a key the deployed stack does not have.
    sent = change_set_parameters(["Name", "Old", "New"], {}, ["Name", "Old", "Dropped"])
    assert sent == [
        {"ParameterKey": "Name", "UsePreviousValue": True},
        {"ParameterKey": "Old", "UsePreviousValue": True},
    ]


def test_a_parameter_the_template_does_not_declare_is_refused() -> None:
    with pytest.raises(DeployError, match="no parameter ProfilesFailedTreshold"):
        change_set_parameters(["Name", "ProfilesFailedThreshold"], {"ProfilesFailedTreshold": "3"}, None)


def test_the_deployer_reads_the_template_and_the_stack_for_an_update() -> None:
    fake = FakeCloudFormation(existing="UPDATE_COMPLETE")
    fake.deployed = {"Name": "x", "RawRetentionDays": "7"}  # IdempotencyRetentionDays: new in the template
    deployer(fake).deploy("x-storage", STORAGE, {"Name": "x"})
    assert fake.sent == [
        {"ParameterKey": "Name", "ParameterValue": "x"},
        {"ParameterKey": "RawRetentionDays", "UsePreviousValue": True},
    ]


def test_the_deployer_sends_no_previous_values_on_a_create() -> None:
    fake = FakeCloudFormation()
    deployer(fake).deploy("x-storage", STORAGE, {"Name": "x", "RawRetentionDays": "3"})
    assert all("UsePreviousValue" not in p for p in fake.sent)


class FakeAccount:
    """Scripted CloudFormation for several stacks, with its parameter rules: a change set
    resolves each parameter (given, previous or default), refuses UsePreviousValue where
    CloudFormation does, and has no changes when nothing differs from what is deployed."""

    def __init__(self) -> None:
        self.stacks: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, tuple[str, dict[str, str]]] = {}
        self.executed: list[tuple[str, dict[str, str]]] = []
        self.worker_version = 0

    def validate_template(self, TemplateBody: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        return {"Parameters": [{"ParameterKey": key} for key in declared_parameters(TemplateBody)]}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        if StackName not in self.stacks:
            raise error("ValidationError", f"Stack with id {StackName} does not exist")
        stack = self.stacks[StackName]
        return {"Stacks": [{
            "StackName": StackName, "StackStatus": "UPDATE_COMPLETE",
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in stack["parameters"].items()],
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in stack["outputs"].items()],
        }]}  # fmt: skip

    def create_change_set(self, **kwargs: Any) -> dict[str, Any]:
        name, previous = kwargs["StackName"], self.stacks.get(kwargs["StackName"], {}).get("parameters")
        assert (kwargs["ChangeSetType"] == "UPDATE") == (previous is not None)
        resolved: dict[str, str] = {}
        given = {p["ParameterKey"]: p for p in kwargs["Parameters"]}
        for key, default in declared_parameters(kwargs["TemplateBody"]).items():
            if key in given and given[key].get("UsePreviousValue"):
                if previous is None or key not in previous:
                    raise error("ValidationError", f"Cannot specify UsePreviousValue for {key}")
                resolved[key] = previous[key]
            elif key in given:
                resolved[key] = given[key]["ParameterValue"]
            elif default is not None:
                resolved[key] = default
            else:
                raise error("ValidationError", f"Parameters: [{key}] must have values")
        self.pending[kwargs["ChangeSetName"]] = (name, resolved)
        return {}

    def describe_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:  # noqa: N803
        name, resolved = self.pending[ChangeSetName]
        if name in self.stacks and self.stacks[name]["parameters"] == resolved:
            return {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes."}
        return {"Status": "CREATE_COMPLETE"}

    def execute_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:  # noqa: N803
        name, resolved = self.pending.pop(ChangeSetName)
        before = self.stacks.get(name, {"parameters": {}})["parameters"]
        outputs = {"ApiId": "api123"} if name.endswith("-api") else {}
        if name.endswith("-compute") and before.get("ArtifactSha256") != resolved["ArtifactSha256"]:
            self.worker_version += 1  # a new package publishes a new version
        self.stacks[name] = {"parameters": resolved, "outputs": outputs}
        self.executed.append((name, resolved))
        return {}

    def delete_change_set(self, StackName: str, ChangeSetName: str) -> dict[str, Any]:  # noqa: N803
        self.pending.pop(ChangeSetName)
        return {}

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:  # noqa: N803
        assert LogicalResourceId == "WorkerVersion"
        arn = f"arn:aws:lambda:us-east-1:123456789012:function:x-worker:{self.worker_version}"
        return {"StackResourceDetail": {"PhysicalResourceId": arn}}

    def update_termination_protection(self, **_: Any) -> dict[str, Any]:
        return {}

    def blue(self) -> str:
        """The version the blue alias runs (compute.yaml: BlueFollowsNew)."""
        pinned = self.stacks["x-compute"]["parameters"]["WorkerBlueVersion"]
        return pinned or str(self.worker_version)


def explicit(**by_stack: dict[str, str]) -> dict[Stack, dict[str, str]]:
    return {Stack(stack): values for stack, values in by_stack.items()}


def package(sha: str) -> dict[Stack, dict[str, str]]:
    return explicit(compute={"ArtifactBucket": "b", "ArtifactKey": f"{sha}.zip", "ArtifactSha256": sha})


def deploy_all(account: FakeAccount, parameters: dict[Stack, dict[str, str]]) -> list[Any]:
    return deploy_stacks(deployer(account), "x", tuple(Stack), parameters)  # type: ignore[arg-type]


def observability_api_ids(account: FakeAccount) -> list[str]:
    return [params["ApiId"] for name, params in account.executed if name == "x-observability"]


def test_a_redeploy_with_no_parameters_changes_nothing_and_keeps_the_api_alarms() -> None:
    account = FakeAccount()
    first = explicit(observability={"ProfilesFailedThreshold": "9"}, messaging={"GreenWeight": "10"})
    deploy_all(account, {**first, **package("sha-1")})
    # A first-ever deploy: no API yet, so no API Gateway alarms until the pass after api.
    assert observability_api_ids(account) == ["", "api123"]
    account.executed.clear()
    results = deploy_all(account, package("sha-1"))
    assert [r.changed for r in results] == [False] * 6
    assert account.executed == []
    assert account.stacks["x-observability"]["parameters"]["ProfilesFailedThreshold"] == "9"
    assert account.stacks["x-messaging"]["parameters"]["GreenWeight"] == "10"


def test_a_new_package_keeps_blue_and_the_api_alarms() -> None:
    account = FakeAccount()
    deploy_all(account, package("sha-1"))
    assert account.blue() == "1"
    account.executed.clear()
    deploy_all(account, package("sha-2"))
    # Only compute changed; the first observability pass had the API's id (alarms kept).
    assert [name for name, _ in account.executed] == ["x-compute"]
    assert account.worker_version == 2
    assert account.blue() == "1"  # green has the new code; blue waits for the rollout
    deploy_all(account, package("sha-3"))
    assert account.blue() == "1"  # a pinned blue is kept
    promote = package("sha-3")
    promote[Stack.COMPUTE]["WorkerBlueVersion"] = ""
    deploy_all(account, promote)
    assert account.blue() == "3"


def test_compute_without_a_new_package_leaves_blue_alone() -> None:
    account = FakeAccount()
    deploy_all(account, package("sha-1"))
    account.executed.clear()
    results = deploy_stacks(deployer(account), "x", (Stack.COMPUTE,), {})  # type: ignore[arg-type]
    assert [r.changed for r in results] == [False]
    assert account.blue() == "1"


def test_observability_alone_keeps_the_api_id() -> None:
    account = FakeAccount()
    deploy_all(account, package("sha-1"))
    del account.stacks["x-api"]  # even without the api stack to read, the deployed id is kept
    deploy_stacks(
        deployer(account), "x", (Stack.OBSERVABILITY,), explicit(observability={"LogRetentionDays": "7"})
    )  # type: ignore[arg-type]
    assert observability_api_ids(account)[-1] == "api123"


def test_the_weight_is_not_a_deploy_parameter_after_the_first_deploy() -> None:
    account = FakeAccount()
    deploy_all(account, package("sha-1"))
    with pytest.raises(DeployError, match=r"live weight is the SSM parameter.*weight --name x --set 50"):
        deploy_stacks(deployer(account), "x", (Stack.MESSAGING,), explicit(messaging={"GreenWeight": "50"}))  # type: ignore[arg-type]


def test_the_routing_parameter_resource_is_frozen() -> None:
    """Any change to it makes CloudFormation rewrite its Value, the initial weight, over the live
    weight. Changing it means a migration (docs/deployment-strategy.md, "The weight")."""
    resource = load_template(template_path(Stack.MESSAGING))["Resources"]["RoutingParameter"]
    assert resource == {
        "Type": "AWS::SSM::Parameter",
        "Properties": {
            "Name": {"Fn::Sub": "/${Name}/routing/green-weight"},
            "Type": "String",
            "Value": {"Ref": "GreenWeight"},
            "AllowedPattern": "^([0-9]|[1-9][0-9]|100)$",
            "Description": (
                "Percent of new datasets routed to the green work queue (blue/green worker rollout)."
            ),
        },
    }


# --- against moto S3 (the real deploys run in tests/e2e_localstack) ------------------------------


@pytest.fixture
def aws() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def test_a_missing_artifacts_bucket_fails_clearly(aws: boto3.Session) -> None:
    with pytest.raises(DeployError, match=r"artifacts bucket 'nope-artifacts' does not exist; create it"):
        require_bucket(aws.client("s3"), "nope-artifacts")


def test_deploy_command_stops_on_a_missing_bucket_before_building(aws: boto3.Session, capsys: Any) -> None:
    code = main(["deploy", "--name", "unit", "--artifact-bucket", "missing", "--region", "us-east-1"])
    assert code == 1
    assert "artifacts bucket 'missing' does not exist" in capsys.readouterr().err


def test_the_weight_tooling_writes_the_live_weight(aws: boto3.Session) -> None:
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/x/routing/green-weight", Value="0", Type="String")
    assert set_weight(ssm, "/x/routing/green-weight", 10) == 0
    assert read_weight(ssm, "/x/routing/green-weight") == 10
    with pytest.raises(DeployError, match="expected 0 to 100"):
        set_weight(ssm, "/x/routing/green-weight", 101)
    assert read_weight(ssm, "/x/routing/green-weight") == 10


# --- arguments -----------------------------------------------------------------------------------


def test_parameters_and_stacks_parse() -> None:
    parsed = parse_parameters(["observability.ProfilesFailedThreshold=10", "messaging.GreenWeight=50"])
    assert parsed[Stack.OBSERVABILITY] == {"ProfilesFailedThreshold": "10"}
    assert parsed[Stack.MESSAGING] == {"GreenWeight": "50"}
    assert parse_stacks("api,storage") == (Stack.STORAGE, Stack.API)  # always in deployment order
    with pytest.raises(DeployError, match=r"expected STACK\.Key=Value"):
        parse_parameters(["GreenWeight=50"])
    with pytest.raises(DeployError, match="unknown"):
        parse_stacks("storage,database")


def test_compute_needs_an_artifacts_bucket(capsys: Any) -> None:
    assert main(["deploy", "--name", "unit", "--stacks", "compute"]) == 2
    assert "--artifact-bucket is required" in capsys.readouterr().err


# --- the package ---------------------------------------------------------------------------------


def test_pip_targets_linux_arm64_python_313_wheels_only() -> None:
    command = pip_command(["numpy==2.4.6"], Path("/tmp/t"))
    joined = " ".join(command)
    assert f"--platform {PLATFORM}" in joined
    assert PLATFORM == "manylinux2014_aarch64"
    assert "--python-version 3.13" in joined
    assert "--only-binary=:all:" in command
    assert "--implementation cp" in joined


def test_runtime_requirements_are_the_pinned_project_dependencies() -> None:
    requirements = runtime_requirements(ROOT / "pyproject.toml")
    assert requirements
    assert all("==" in r for r in requirements)
    assert not any(r.startswith(("moto", "pytest")) for r in requirements)


def fake_pip(payload_bytes: int) -> Any:
    def run(command: Sequence[str]) -> None:
        target = Path(command[command.index("--target") + 1])
        (target / "somedep").mkdir(parents=True)
        (target / "somedep" / "__init__.py").write_bytes(b"#" * payload_bytes)

    return run


def test_build_zips_sources_and_dependencies_reproducibly(tmp_path: Path) -> None:
    first = build(ROOT, tmp_path / "a.zip", work_dir=tmp_path / "w1", run=fake_pip(1000))
    second = build(ROOT, tmp_path / "b.zip", work_dir=tmp_path / "w2", run=fake_pip(1000))
    assert first.sha256_hex == second.sha256_hex
    names = zipfile.ZipFile(first.path).namelist()
    assert "csvprof/handlers/api.py" in names
    assert "csvprof/handlers/worker.py" in names
    assert "csvprof/handlers/reconciler.py" in names
    assert "csvprof/domain/reconcile.py" in names
    assert "somedep/__init__.py" in names
    assert not any(n.startswith(("csvprof/local/", "csvprof/deploy/")) or n.endswith(".pyc") for n in names)
    assert first.unzipped_bytes > first.zipped_bytes > 0
    assert "of Lambda's 250 MB limit" in first.describe()


def test_build_refuses_a_package_over_the_unzipped_limit(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="over Lambda's 0 MB limit"):
        build(ROOT, tmp_path / "a.zip", work_dir=tmp_path / "w", run=fake_pip(5000), limit_bytes=4000)
    assert not (tmp_path / "a.zip").exists()


def test_prune_drops_tests_headers_and_arrow_flight_only(tmp_path: Path) -> None:
    from csvprof.deploy.package import prune

    files = {
        "pyarrow/lib.so": True,
        "pyarrow/libarrow_flight.so.2600": False,
        "pyarrow/_flight.cpython-313-aarch64-linux-gnu.so": False,
        "pyarrow/include/arrow/api.h": False,
        "pyarrow/tests/test_csv.py": False,
        "pyarrow/lib.pxd": False,
        "numpy/_core/tests/test_a.py": False,
        "numpy/__init__.py": True,
        "csvprof/profiler/engine.py": True,
    }
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * 10)
    assert prune(tmp_path) == 10 * sum(not kept for kept in files.values())
    assert {name for name in files if (tmp_path / name).exists()} == {n for n, kept in files.items() if kept}


def test_a_deploy_reports_the_stack_status_it_waits_on() -> None:
    fake = FakeCloudFormation()
    seen: list[tuple[str, float]] = []
    shown = Deployer(fake, poll_interval_s=0, sleep=lambda _: None, log=lambda _: None,  # type: ignore[arg-type]
                     progress=lambda status, waited: seen.append((status, waited)))  # fmt: skip
    shown.deploy("x-storage", STORAGE, {"Name": "x"})
    assert seen
    assert seen[-1][0] == "x-storage CREATE_COMPLETE"
    assert all(waited >= 0 for _, waited in seen)
