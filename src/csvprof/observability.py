"""Logger, metrics and tracer for the functions: the code side of docs/observability.md.

Metric names and units live here and nowhere else; a test reads the EMF the handlers
print and checks it against the tables in docs/observability.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "CsvProf"
Component = Literal["api", "worker", "reconciler", "hooks"]
# The worker's metrics are also published per route, so green can be judged apart from blue.
ROUTE_DIMENSION = "Route"


class ApiMetric(StrEnum):
    DATASETS_ACCEPTED = "DatasetsAccepted"
    UPLOAD_BYTES = "UploadBytes"
    REQUESTS_REJECTED = "RequestsRejected"


class ApiVersionMetric(StrEnum):
    """Per answer, by the alias and version that served it: what the canary's alarms watch.
    The resolver turns exceptions into handled 500s, which Lambda's `Errors` never counts."""

    RESPONSES_5XX = "ApiResponses5xx"
    LATENCY_MS = "ApiLatencyMs"


# The dimension sets of ApiVersionMetric: the alarms read the first (the version under test is
# known only at deploy time), dashboards and the canary's logs the second.
ALIAS_DIMENSION = "Alias"
VERSION_DIMENSION = "FunctionVersion"
# An unqualified invocation runs $LATEST and names no alias.
UNQUALIFIED = "$LATEST"


class WorkerMetric(StrEnum):
    PROFILES_SUCCEEDED = "ProfilesSucceeded"
    PROFILES_FAILED = "ProfilesFailed"
    PROFILE_DURATION_MS = "ProfileDurationMs"
    BYTES_PROFILED = "BytesProfiled"
    ROWS_PROFILED = "RowsProfiled"
    QUEUE_LATENCY_MS = "QueueLatencyMs"
    DELIVERIES_FAILED = "DeliveriesFailed"


class ReconcilerMetric(StrEnum):
    DATASETS_RECONCILED = "DatasetsReconciled"
    DATASETS_REQUEUED = "DatasetsRequeued"
    DATASETS_ABANDONED = "DatasetsAbandoned"
    METAS_EXAMINED = "MetasExamined"


UNITS: dict[str, MetricUnit] = {
    ApiMetric.DATASETS_ACCEPTED: MetricUnit.Count,
    ApiMetric.UPLOAD_BYTES: MetricUnit.Bytes,
    ApiMetric.REQUESTS_REJECTED: MetricUnit.Count,
    ApiVersionMetric.RESPONSES_5XX: MetricUnit.Count,
    ApiVersionMetric.LATENCY_MS: MetricUnit.Milliseconds,
    WorkerMetric.PROFILES_SUCCEEDED: MetricUnit.Count,
    WorkerMetric.PROFILES_FAILED: MetricUnit.Count,
    WorkerMetric.PROFILE_DURATION_MS: MetricUnit.Milliseconds,
    WorkerMetric.BYTES_PROFILED: MetricUnit.Bytes,
    WorkerMetric.ROWS_PROFILED: MetricUnit.Count,
    WorkerMetric.QUEUE_LATENCY_MS: MetricUnit.Milliseconds,
    WorkerMetric.DELIVERIES_FAILED: MetricUnit.Count,
    ReconcilerMetric.DATASETS_RECONCILED: MetricUnit.Count,
    ReconcilerMetric.DATASETS_REQUEUED: MetricUnit.Count,
    ReconcilerMetric.DATASETS_ABANDONED: MetricUnit.Count,
    ReconcilerMetric.METAS_EXAMINED: MetricUnit.Count,
}


@dataclass(frozen=True, slots=True)
class Observability:
    logger: Logger
    metrics: EphemeralMetrics
    tracer: Tracer

    def metric(self, name: ApiMetric | WorkerMetric | ReconcilerMetric, value: float) -> None:
        self.metrics.add_metric(name=name.value, unit=UNITS[name], value=value)

    def per_route(self, route: str) -> None:
        """Publish this invocation's metrics under [service, Route] as well as [service]: a second
        EMF dimension set, so the service-wide alarms keep their metric. Cleared at each flush."""
        self.metrics.add_dimensions(**{"service": self.metrics.service, ROUTE_DIMENSION: route})

    def answered(self, context: Any, status: int, latency_ms: float) -> None:
        """ApiResponses5xx (1 or 0, so every answer is a sample) and ApiLatencyMs, printed now
        as their own EMF blob: their dimensions differ from the other API metrics'."""
        alias, version = invoked_alias(context), str(getattr(context, "function_version", UNQUALIFIED))
        service = str(self.logger.service)
        metrics = EphemeralMetrics(namespace=NAMESPACE, service=service)
        metrics.add_dimension(ALIAS_DIMENSION, alias)
        metrics.add_dimensions(**{"service": service, ALIAS_DIMENSION: alias, VERSION_DIMENSION: version})
        for name, value in (
            (ApiVersionMetric.RESPONSES_5XX, 1.0 if status >= 500 else 0.0),
            (ApiVersionMetric.LATENCY_MS, latency_ms),
        ):
            metrics.add_metric(name=name.value, unit=UNITS[name], value=value)
        metrics.flush_metrics()


def invoked_alias(context: Any) -> str:
    """The qualifier of the ARN the caller invoked (`...:function:name:live` -> "live")."""
    parts = str(getattr(context, "invoked_function_arn", "")).split(":")
    return parts[7] if len(parts) > 7 and parts[7] else UNQUALIFIED


def for_component(component: Component) -> Observability:
    """One set per handler instance. EphemeralMetrics keeps no class-level state, so the
    API and the worker can share a process (the local runtime) without mixing metrics."""
    service = f"csvprof-{component}"
    return Observability(
        logger=Logger(service=service),
        metrics=EphemeralMetrics(namespace=NAMESPACE, service=service),
        tracer=Tracer(service=service),
    )
