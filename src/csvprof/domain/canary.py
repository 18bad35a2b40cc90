"""The API canary's lifecycle hooks, as use cases over three ports.

CodeDeploy runs a hook before it shifts any traffic to the new API version (BeforeAllowTraffic)
and one after the shift is complete (AfterAllowTraffic); each must report `Succeeded` or `Failed`
for its lifecycle execution, and a `Failed` stops the deployment and rolls the alias back.

- `smoke_test` invokes the NEW version directly (not the alias, which still serves the old one)
  with HTTP API payload 2.0 events: `GET /datasets?limit=1`, a tiny `POST /datasets`, and
  `GET /datasets/{id}` of what it created, and checks each answer's status and body against the
  contracts (contracts/openapi.yaml's schemas, through their code side in csvprof.contracts).
  The dataset it creates is marked, not deleted: its name is `canary-<DeploymentId>.csv` and
  its Idempotency-Key the deployment id, so a retried hook re-reads the same dataset.
- `alarm_check` reads the deployment's alarms and fails if any is in ALARM.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Protocol

from csvprof.contracts.api import dataset_path
from csvprof.contracts.keys import DatasetId, parse_dataset_id
from csvprof.contracts.meta import Meta, Status
from csvprof.errors import CsvProfError

CANARY_CSV = b"canary,ok\n1,true\n"


class HookStatus(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class HookEvent:
    """What CodeDeploy sends a lifecycle hook function."""

    deployment_id: str
    execution_id: str

    @classmethod
    def parse(cls, event: Mapping[str, Any]) -> HookEvent:
        deployment, execution = event.get("DeploymentId"), event.get("LifecycleEventHookExecutionId")
        if (
            not isinstance(deployment, str)
            or not isinstance(execution, str)
            or not deployment
            or not execution
        ):
            raise ValueError(
                "not a CodeDeploy lifecycle hook event (DeploymentId, LifecycleEventHookExecutionId)"
            )
        return cls(deployment, execution)


class VersionInvoker(Protocol):
    """Invokes the API version under test synchronously; returns the function's result."""

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]: ...


class HookReporter(Protocol):
    """PutLifecycleEventHookExecutionStatus."""

    def report(self, hook: HookEvent, status: HookStatus) -> None: ...


class AlarmReader(Protocol):
    """Alarm name -> state (`OK`, `ALARM`, `INSUFFICIENT_DATA`) for the names asked."""

    def states(self, names: Sequence[str]) -> dict[str, str]: ...


class CanaryCheckFailed(Exception):
    """A check of the version under test did not pass; the message says which and why."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


# --- the synthetic requests ----------------------------------------------------------------


def http_event(
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A payload 2.0 event as API Gateway builds it for a route (headers lowercased, body base64)."""
    query = dict(query or {})
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": lowered,
        "requestContext": {
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "csvprof-canary",
            },
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "requestId": "canary",
        },
        "isBase64Encoded": body is not None,
    }
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    return event


def _answer(result: Mapping[str, Any]) -> tuple[int, Any]:
    """(status, decoded JSON body) of a payload 2.0 function result."""
    status = result.get("statusCode")
    if not isinstance(status, int):
        raise CanaryCheckFailed(f"no statusCode in the function's result: {str(result)[:200]}")
    raw = result.get("body") or ""
    text = base64.b64decode(raw).decode() if result.get("isBase64Encoded") else str(raw)
    try:
        return status, json.loads(text)
    except json.JSONDecodeError as exc:
        raise CanaryCheckFailed(f"status {status} with a body that is not JSON: {text[:200]!r}") from exc


# --- the contracts' key fields -----------------------------------------------------------------

_META_FIELDS = frozenset(f.name for f in fields(Meta))


def check_meta(body: Any) -> Meta:
    """meta.schema.json: exactly its properties, a canonical id, a known status."""
    if not isinstance(body, dict) or set(body) != _META_FIELDS:
        raise CanaryCheckFailed(
            f"not a meta: fields {sorted(body) if isinstance(body, dict) else type(body)}"
        )
    try:
        parse_dataset_id(str(body["dataset_id"]))
        meta = Meta.from_dict(body)
    except (CsvProfError, TypeError, ValueError) as exc:
        raise CanaryCheckFailed(f"not a meta: {exc}") from exc
    if meta.status is Status.FAILED and meta.error is None:
        raise CanaryCheckFailed("a FAILED meta without its error")
    return meta


def check_dataset_list(body: Any) -> list[Meta]:
    """api-dataset-list.schema.json: items (metas, at most 100) and next_token (string or null)."""
    if not isinstance(body, dict) or set(body) != {"items", "next_token"}:
        raise CanaryCheckFailed(f"not a dataset list: {str(body)[:200]}")
    if not isinstance(body["items"], list) or len(body["items"]) > 100:
        raise CanaryCheckFailed("items is not a list of at most 100 metas")
    if body["next_token"] is not None and not isinstance(body["next_token"], str):
        raise CanaryCheckFailed("next_token is neither a string nor null")
    return [check_meta(item) for item in body["items"]]


def check_accepted(body: Any) -> DatasetId:
    """api-dataset-accepted.schema.json: the id, a status, and the links to follow it."""
    if not isinstance(body, dict) or set(body) != {"dataset_id", "status", "links"}:
        raise CanaryCheckFailed(f"not an accepted dataset: {str(body)[:200]}")
    try:
        dataset_id = parse_dataset_id(str(body["dataset_id"]))
        Status(body["status"])
    except (CsvProfError, ValueError) as exc:
        raise CanaryCheckFailed(f"not an accepted dataset: {exc}") from exc
    base = dataset_path(dataset_id)
    if body["links"] != {"self": base, "profile": f"{base}/profile"}:
        raise CanaryCheckFailed(f"links do not lead to the dataset: {body['links']}")
    return dataset_id


def check_error(body: Any) -> None:
    """api-error.schema.json: exactly a code and a message."""
    if not isinstance(body, dict) or set(body) != {"code", "message"} or not body["message"]:
        raise CanaryCheckFailed(f"an error answer that is not an api-error body: {str(body)[:200]}")


# --- the use cases -------------------------------------------------------------------------------


def smoke_test(invoker: VersionInvoker, deployment_id: str) -> list[CheckResult]:
    """The three requests in order; stops at the first that fails (later ones depend on it)."""
    results: list[CheckResult] = []
    steps: list[tuple[str, Callable[[], str]]] = [("GET /datasets?limit=1", lambda: _health(invoker))]
    created: list[DatasetId] = []
    steps.append(("POST /datasets", lambda: _upload(invoker, deployment_id, created)))
    steps.append(("GET /datasets/{dataset_id}", lambda: _read_back(invoker, created[0], deployment_id)))
    for name, step in steps:
        try:
            results.append(CheckResult(name, True, step()))
        except CanaryCheckFailed as exc:
            results.append(CheckResult(name, False, str(exc)))
            break
    return results


def _expect(result: Mapping[str, Any], status: int) -> Any:
    got, body = _answer(result)
    if got != status:
        if got >= 400:
            check_error(body)  # even a failure must be an api-error body
        raise CanaryCheckFailed(f"answered {got}, expected {status}: {str(body)[:200]}")
    return body


def _health(invoker: VersionInvoker) -> str:
    event = http_event("GET", "/datasets", query={"limit": "1"})
    metas = check_dataset_list(_expect(invoker.invoke(event), 200))
    return f"200, {len(metas)} item(s)"


def canary_name(deployment_id: str) -> str:
    """The name that marks a dataset the before-traffic hook created."""
    return f"canary-{deployment_id}.csv"


def _upload(invoker: VersionInvoker, deployment_id: str, created: list[DatasetId]) -> str:
    event = http_event(
        "POST",
        "/datasets",
        query={"name": canary_name(deployment_id)},
        body=CANARY_CSV,
        headers={"Content-Type": "text/csv", "Idempotency-Key": f"canary-{deployment_id}"},
    )
    dataset_id = check_accepted(_expect(invoker.invoke(event), 202))
    created.append(dataset_id)
    return f"202, {dataset_id}"


def _read_back(invoker: VersionInvoker, dataset_id: DatasetId, deployment_id: str) -> str:
    path = dataset_path(dataset_id)
    event = http_event(
        "GET",
        path,
        route_key="GET /datasets/{dataset_id}",
        path_parameters={"dataset_id": dataset_id},
    )
    meta = check_meta(_expect(invoker.invoke(event), 200))
    if meta.dataset_id != dataset_id or meta.name != canary_name(deployment_id):
        raise CanaryCheckFailed(f"read back another dataset: {meta.dataset_id} {meta.name!r}")
    return f"200, {meta.status.value}"


def before_allow_traffic(
    hook: HookEvent, invoker: VersionInvoker, reporter: HookReporter
) -> list[CheckResult]:
    """Smoke-test the new version and report; an invoke that fails outright is a failed check."""
    try:
        results = smoke_test(invoker, hook.deployment_id)
    except Exception as exc:  # noqa: BLE001 - any failure to test the version fails the deployment
        results = [CheckResult("invoke", False, f"{type(exc).__name__}: {exc}")]
    passed = bool(results) and all(r.passed for r in results) and len(results) == 3
    reporter.report(hook, HookStatus.SUCCEEDED if passed else HookStatus.FAILED)
    return results


def alarm_check(alarms: AlarmReader, names: Sequence[str]) -> list[CheckResult]:
    """One result per alarm: passed unless in ALARM (a missing alarm fails: nothing would watch)."""
    states = alarms.states(names)
    return [
        CheckResult(name, states.get(name) not in ("ALARM", None), states.get(name, "missing"))
        for name in names
    ]


def after_allow_traffic(
    hook: HookEvent, alarms: AlarmReader, names: Sequence[str], reporter: HookReporter
) -> list[CheckResult]:
    """Fail the deployment when any of its alarms is in ALARM once all traffic is shifted."""
    try:
        results = alarm_check(alarms, names)
    except Exception as exc:  # noqa: BLE001 - unable to read the alarms is not a pass
        results = [CheckResult("describe-alarms", False, f"{type(exc).__name__}: {exc}")]
    passed = bool(results) and all(r.passed for r in results)
    reporter.report(hook, HookStatus.SUCCEEDED if passed else HookStatus.FAILED)
    return results
