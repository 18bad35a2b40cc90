"""Deploy a template through a change set, wait, and explain failures plainly.

Works the same against AWS (default credential chain, no endpoint) and an emulator
(LocalStack: `endpoint_url`). Every failure is a `DeployError` whose message says what to
do: a missing artifacts bucket, a stack left in ROLLBACK_COMPLETE, a template CloudFormation
rejects, a change set or stack that failed (with the failing resources' reasons).

Parameters: an update keeps every deployed value the caller does not set (`UsePreviousValue`).
CloudFormation itself does the opposite: a parameter left out of an update gets the template's
default, so a plain redeploy would reset thresholds, the API id and the rollout parameters.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudformation.type_defs import ParameterTypeDef, StackTypeDef
    from mypy_boto3_s3 import S3Client

# Stack states from which an update (or create) can proceed.
_STABLE = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "IMPORT_ROLLBACK_COMPLETE",
}
_FAILED_FINAL = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
}
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed", "No changes")


class DeployError(Exception):
    """A deployment step failed; the message says which and what to do."""


def change_set_parameters(
    declared: Collection[str], explicit: Mapping[str, str], previous: Collection[str] | None
) -> list[ParameterTypeDef]:
    """The `Parameters` of a change set that changes only what `explicit` sets.

    `declared`: the template's parameters; `previous`: those the deployed stack has (None for a
    create). Every declared parameter not set explicitly keeps its deployed value
    (`UsePreviousValue`), except one the deployed stack lacks (new in the template), which
    gets its default: CloudFormation rejects `UsePreviousValue` on a create and for a key the
    previous template did not have.
    """
    unknown = sorted(set(explicit) - set(declared))
    if unknown:
        raise DeployError(
            f"the template has no parameter {', '.join(unknown)} (declared: {sorted(declared)})"
        )
    params: list[ParameterTypeDef] = [
        {"ParameterKey": key, "ParameterValue": value} for key, value in explicit.items()
    ]
    if previous is not None:
        params += [
            {"ParameterKey": key, "UsePreviousValue": True}
            for key in declared
            if key not in explicit and key in previous
        ]
    return params


@dataclass(frozen=True, slots=True)
class StackResult:
    stack_name: str
    status: str
    outputs: dict[str, str]
    changed: bool


@dataclass
class Deployer:
    cloudformation: CloudFormationClient
    poll_interval_s: float = 2.0
    timeout_s: float = 1800.0
    log: Callable[[str], None] = print
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    tags: Mapping[str, str] = field(default_factory=dict)
    # Told each poll's stack status and the seconds waited, for a progress line.
    progress: Callable[[str, float], None] | None = None

    # --- one stack --------------------------------------------------------------------

    def deploy(
        self,
        stack_name: str,
        template: Path | str,
        parameters: Mapping[str, str],
        *,
        termination_protection: bool = False,
    ) -> StackResult:
        body = template.read_text() if isinstance(template, Path) else template
        declared = self.validate(stack_name, body)
        existing = self.describe(stack_name)
        if existing is not None and existing["StackStatus"] in _FAILED_FINAL:
            raise DeployError(
                f"stack {stack_name} is {existing['StackStatus']} ({existing.get('StackStatusReason', '')}); "
                f"a failed create cannot be updated: delete it (aws cloudformation delete-stack "
                f"--stack-name {stack_name}) and deploy again"
            )
        if existing is not None and existing["StackStatus"] == "REVIEW_IN_PROGRESS":
            existing = None  # an earlier CREATE change set that never ran: create again
        elif existing is not None and existing["StackStatus"] not in _STABLE:
            raise DeployError(f"stack {stack_name} is busy ({existing['StackStatus']}); wait and retry")
        change_set_type: Literal["CREATE", "UPDATE"] = "UPDATE" if existing is not None else "CREATE"
        change_set = f"csvprof-{uuid.uuid4().hex[:12]}"
        previous = None if existing is None else [p["ParameterKey"] for p in existing.get("Parameters", [])]
        try:
            params = change_set_parameters(declared, parameters, previous)
        except DeployError as exc:
            raise DeployError(f"{stack_name}: {exc}") from exc
        kept = sorted(p["ParameterKey"] for p in params if p.get("UsePreviousValue"))
        self.log(
            f"{stack_name}: creating {change_set_type} change set {change_set}; "
            f"sets {sorted(parameters) or 'nothing'}" + (f", keeps the deployed {kept}" if kept else "")
        )
        try:
            self.cloudformation.create_change_set(
                StackName=stack_name,
                TemplateBody=body,
                Parameters=params,
                ChangeSetName=change_set,
                ChangeSetType=change_set_type,
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
            )
        except ClientError as exc:
            raise DeployError(
                f"{stack_name}: CloudFormation refused the change set: {_message(exc)}"
            ) from exc
        if not self._wait_change_set(stack_name, change_set):
            self.log(f"{stack_name}: no changes")
            self.cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=change_set)
            return self._result(stack_name, changed=False)
        self.cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=change_set)
        status = self._wait_stack(stack_name)
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise DeployError(f"{stack_name}: ended {status}; {self._failure_reasons(stack_name)}")
        if termination_protection:
            self.cloudformation.update_termination_protection(
                StackName=stack_name, EnableTerminationProtection=True
            )
        result = self._result(stack_name, changed=True)
        self.log(f"{stack_name}: {result.status}")
        return result

    def _drop_empty_stack(self, stack_name: str, change_set_type: str) -> None:
        """A CREATE change set that failed leaves an empty REVIEW_IN_PROGRESS stack: remove it,
        so the next attempt starts clean (emulators that never roll back need this too)."""
        if change_set_type != "CREATE":
            return
        stack = self.describe(stack_name)
        if stack is not None and stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            self.cloudformation.delete_stack(StackName=stack_name)

    def validate(self, stack_name: str, body: str) -> list[str]:
        """The template's parameter keys, once CloudFormation accepts the template."""
        try:
            answer = self.cloudformation.validate_template(TemplateBody=body)
        except ClientError as exc:
            raise DeployError(f"{stack_name}: template error: {_message(exc)}") from exc
        return [p["ParameterKey"] for p in answer.get("Parameters", [])]

    def describe(self, stack_name: str) -> StackTypeDef | None:
        try:
            stacks = self.cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as exc:
            if "does not exist" in _message(exc):
                return None
            raise
        if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
            return None
        return stacks[0]

    def outputs(self, stack_name: str) -> dict[str, str]:
        stack = self.describe(stack_name)
        if stack is None:
            raise DeployError(f"stack {stack_name} does not exist; deploy it first")
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def parameters(self, stack_name: str) -> dict[str, str] | None:
        """The deployed stack's parameter values; None when there is no stack."""
        stack = self.describe(stack_name)
        if stack is None:
            return None
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}

    def physical_id(self, stack_name: str, logical_id: str) -> str:
        answer = self.cloudformation.describe_stack_resource(
            StackName=stack_name, LogicalResourceId=logical_id
        )
        return answer["StackResourceDetail"].get("PhysicalResourceId", "")

    def delete(self, stack_name: str) -> None:
        """Delete a stack and wait; tolerate one that is already gone."""
        if self.describe(stack_name) is None:
            return
        self.cloudformation.delete_stack(StackName=stack_name)
        status = self._wait_stack(stack_name, deleting=True)
        if status not in ("DELETE_COMPLETE", "GONE"):
            raise DeployError(f"{stack_name}: delete ended {status}; {self._failure_reasons(stack_name)}")

    # --- waiting ----------------------------------------------------------------------

    def _deadline_passed(self, started: float) -> bool:
        return self.clock() - started > self.timeout_s

    def _wait_change_set(self, stack_name: str, change_set: str) -> bool:
        """True when the change set is ready to execute, False when it has no changes."""
        started = self.clock()
        while True:
            answer = self.cloudformation.describe_change_set(StackName=stack_name, ChangeSetName=change_set)
            status = answer["Status"]
            if status == "CREATE_COMPLETE":
                return True
            if status == "FAILED":
                reason = answer.get("StatusReason", "")
                if any(marker in reason for marker in _NO_CHANGES):
                    return False
                raise DeployError(f"{stack_name}: change set failed: {reason}")
            if self._deadline_passed(started):
                raise DeployError(f"{stack_name}: change set still {status} after {self.timeout_s} s")
            self.sleep(self.poll_interval_s)

    def _wait_stack(self, stack_name: str, *, deleting: bool = False) -> str:
        started = self.clock()
        while True:
            stack = self.describe(stack_name)
            if stack is None:
                return "GONE" if deleting else "MISSING"
            status = stack["StackStatus"]
            if self.progress is not None:
                self.progress(f"{stack_name} {status}", self.clock() - started)
            if not status.endswith("_IN_PROGRESS"):
                return status
            if self._deadline_passed(started):
                raise DeployError(f"{stack_name}: still {status} after {self.timeout_s} s")
            self.sleep(self.poll_interval_s)

    def _failure_reasons(self, stack_name: str) -> str:
        try:
            events = self.cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        except ClientError:
            return "no stack events available"
        failed = [
            f"{e.get('LogicalResourceId')} ({e.get('ResourceType')}): {e.get('ResourceStatusReason', '')}"
            for e in events
            if e.get("ResourceStatus", "").endswith("_FAILED") and e.get("LogicalResourceId") != stack_name
        ]
        return "failed resources: " + "; ".join(failed) if failed else "no failed resource reported"

    def _result(self, stack_name: str, *, changed: bool) -> StackResult:
        stack = self.describe(stack_name)
        if stack is None:
            raise DeployError(f"stack {stack_name} vanished")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return StackResult(stack_name, stack["StackStatus"], outputs, changed)


def require_bucket(s3: S3Client, bucket: str) -> None:
    """Fail clearly when the artifacts bucket is missing or not ours to write."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise DeployError(
                f"artifacts bucket {bucket!r} does not exist; create it (aws s3 mb s3://{bucket}) or pass "
                "another with --artifact-bucket"
            ) from exc
        if code in ("403", "AccessDenied", "Forbidden"):
            raise DeployError(
                f"artifacts bucket {bucket!r} exists but these credentials cannot use it"
            ) from exc
        raise DeployError(f"artifacts bucket {bucket!r}: {_message(exc)}") from exc


def _message(exc: ClientError) -> str:
    error: Any = exc.response.get("Error", {})
    return str(error.get("Message") or error.get("Code") or exc)
