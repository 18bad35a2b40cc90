"""LocalAlias: a Lambda alias with a weighted second version, routed and measured as Lambda does.

An alias points at one version and, with `RoutingConfig.AdditionalVersionWeights`, sends a
fraction of invocations to one more (what CodeDeploy sets during a canary). Lambda picks the
version per invocation by weight, gives the function a context whose `function_version` is the
version that runs and whose `invoked_function_arn` ends in the alias, and publishes the
`AWS/Lambda` metrics the service's alarms read. This module plays that for the API function
in `LocalRuntime`: `Invocations`, `Errors` (an unhandled exception only: a handled 500 is a
successful invocation), `Duration` and `Throttles` (past `reserved_concurrency`), with the
dimension sets `FunctionName`, `FunctionName`+`Resource` (`name:alias`) and, for the three
that have a version, `FunctionName`+`Resource`+`ExecutedVersion`, sent with PutMetricData to
the CloudWatch it is given (the stack's endpoint). No emulator runs Lambda here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from csvprof.limits import API_MEMORY_MB, API_TIMEOUT_S
from csvprof.local.context import LambdaContext, new_context

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]
LAMBDA_NAMESPACE = "AWS/Lambda"


class MetricSink(Protocol):
    """The part of a boto3 CloudWatch client this module uses (a fake in unit tests)."""

    def put_metric_data(self, *, Namespace: str, MetricData: Any) -> Any: ...  # noqa: N803 - boto3's names


class TooManyRequestsError(Exception):
    """Lambda's TooManyRequestsException: the function's reserved concurrency is in use."""


@dataclasses.dataclass(frozen=True, slots=True)
class AliasRouting:
    """An alias's target: `version`, plus `additional` = {version: weight in [0, 1]} (at most one,
    as Lambda allows)."""

    version: str
    additional: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.additional) > 1:
            raise ValueError("an alias routes to at most one additional version")
        for extra, weight in self.additional.items():
            if extra == self.version or not 0.0 <= weight <= 1.0:
                raise ValueError(f"invalid additional version weight {extra}={weight}")

    def choose(self, draw: float) -> str:
        """The version for a uniform draw in [0, 1)."""
        for extra, weight in self.additional.items():
            if draw < weight:
                return extra
        return self.version


def qualified_context(context: LambdaContext, *, alias: str, version: str) -> LambdaContext:
    """`context` as Lambda gives it to `version` invoked through `alias`."""
    return dataclasses.replace(context, function_version=version, qualifier=alias)


class LocalAlias:
    """`function_name:alias` over published versions (version -> handler); callable as a handler.

    `rng` makes the routing reproducible (tests pass a seeded `random.Random`); `cloudwatch`
    None publishes nothing. A metric that cannot be sent is logged and never changes the result.
    """

    def __init__(
        self,
        function_name: str,
        alias: str,
        versions: Mapping[str, Handler],
        routing: AliasRouting,
        *,
        cloudwatch: MetricSink | None = None,
        rng: random.Random | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        self.function_name, self.alias = function_name, alias
        self.versions = dict(versions)
        self.cloudwatch = cloudwatch
        self.reserved_concurrency = reserved_concurrency
        self._rng = rng or random.Random()  # traffic splitting, not security
        self._lock = threading.Lock()
        self._in_flight = 0
        self.routing = routing
        self.update(routing)

    @property
    def resource(self) -> str:
        return f"{self.function_name}:{self.alias}"

    def update(self, routing: AliasRouting) -> None:
        """UpdateAlias: the new target applies to the next invocation."""
        unknown = {routing.version, *routing.additional} - set(self.versions)
        if unknown:
            raise ValueError(f"no such version(s) of {self.function_name}: {sorted(unknown)}")
        with self._lock:
            self.routing = routing

    def wrap(self, wrapper: Callable[[Handler], Handler]) -> None:
        """Apply `wrapper` to every version's handler (the runtime's EMF capture and sandbox lock)."""
        self.versions = {version: wrapper(handler) for version, handler in self.versions.items()}

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> Any:
        with self._lock:
            version = self.routing.choose(self._rng.random())
            throttled = self.reserved_concurrency is not None and self._in_flight >= self.reserved_concurrency
            if not throttled:
                self._in_flight += 1
        if throttled:
            self._publish([("Throttles", 1.0, "Count", None)])
            raise TooManyRequestsError(f"Rate Exceeded: {self.resource} is at its reserved concurrency")
        try:
            return self.invoke_version(version, event, context)
        finally:
            with self._lock:
                self._in_flight -= 1

    def invoke_version(self, version: str, event: dict[str, Any], context: LambdaContext) -> Any:
        """One invocation of `version` through the alias, measured as Lambda measures it."""
        started = time.monotonic()
        failed = True
        try:
            result = self.versions[version](
                event, qualified_context(context, alias=self.alias, version=version)
            )
            failed = False
            return result
        finally:
            duration_ms = (time.monotonic() - started) * 1000
            self._publish(
                [
                    ("Invocations", 1.0, "Count", version),
                    ("Errors", 1.0 if failed else 0.0, "Count", version),
                    ("Duration", duration_ms, "Milliseconds", version),
                ]
            )

    def _publish(self, values: list[tuple[str, float, str, str | None]]) -> None:
        if self.cloudwatch is None:
            return
        now = datetime.now(UTC)
        data: list[MetricDatumTypeDef] = []
        for name, value, unit, version in values:
            for dimensions in self._dimension_sets(version):
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
                        "Timestamp": now,
                        "Value": value,
                        "Unit": unit,  # type: ignore[typeddict-item]  # CloudWatch's unit names
                    }
                )
        try:
            self.cloudwatch.put_metric_data(Namespace=LAMBDA_NAMESPACE, MetricData=data)
        except (BotoCoreError, ClientError):
            log.exception("publishing %s metrics for %s failed", LAMBDA_NAMESPACE, self.resource)

    def _dimension_sets(self, version: str | None) -> list[list[tuple[str, str]]]:
        function = [("FunctionName", self.function_name)]
        alias = [*function, ("Resource", self.resource)]
        sets = [function, alias]
        if version is not None:
            sets.append([*alias, ("ExecutedVersion", version)])
        return sets


class LocalVersionInvoker:
    """Invokes one published version directly (`function:version`), as the BeforeAllowTraffic
    hook does on Lambda: the context's qualifier is the version, so the version's own
    `Alias`-dimensioned metrics stay out of the alias's (csvprof.domain.canary.VersionInvoker)."""

    def __init__(self, alias: LocalAlias, version: str, *, timeout_s: float = API_TIMEOUT_S) -> None:
        self.alias, self.version, self.timeout_s = alias, version, timeout_s

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        context = new_context(
            self.alias.function_name, memory_mb=API_MEMORY_MB, timeout_s=self.timeout_s, region="us-east-1"
        )
        # A copy, as the function would deserialize it from the invoke payload.
        result = self.alias.versions[self.version](
            json.loads(json.dumps(event)),
            qualified_context(context, alias=self.version, version=self.version),
        )
        if not isinstance(result, dict):
            raise TypeError(f"{self.alias.function_name}:{self.version} returned {type(result).__name__}")
        return result
