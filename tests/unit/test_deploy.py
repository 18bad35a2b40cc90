"""csvprof.deploy: change-set deploys, plain failures, and the Lambda package build."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from csvprof.deploy.__main__ import main, parse_parameters, parse_stacks
from csvprof.deploy.outputs import Stack, template_path
from csvprof.deploy.package import PLATFORM, PackageError, build, pip_command, runtime_requirements
from csvprof.deploy.stacks import Deployer, DeployError, require_bucket

ROOT = Path(__file__).resolve().parents[2]


def error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "op")


class FakeCloudFormation:
    """Scripted CloudFormation: each stack walks through the statuses it is given."""

    def __init__(self, *, existing: str | None = None, after_execute: str = "CREATE_COMPLETE") -> None:
        self.status = existing
        self.after_execute = after_execute
        self.change_set_status = "CREATE_COMPLETE"
        self.change_set_reason = ""
        self.calls: list[str] = []
        self.template_error: str | None = None

    def validate_template(self, **kwargs: Any) -> dict[str, Any]:
        if self.template_error:
            raise error("ValidationError", self.template_error)
        return {}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if self.status is None:
            raise error("ValidationError", f"Stack with id {StackName} does not exist")
        return {"Stacks": [{"StackName": StackName, "StackStatus": self.status, "Outputs": []}]}

    def create_change_set(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"create_change_set {kwargs['ChangeSetType']}")
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
