"""Logger, metrics and tracer for the functions: the code side of docs/observability.md.

Metric names and units live here and nowhere else; a test reads the EMF the handlers
print and checks it against the tables in docs/observability.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "CsvProf"
Component = Literal["api", "worker", "reconciler"]
# The worker's metrics are also published per route, so green can be judged apart from blue.
ROUTE_DIMENSION = "Route"


class ApiMetric(StrEnum):
    DATASETS_ACCEPTED = "DatasetsAccepted"
    UPLOAD_BYTES = "UploadBytes"
    REQUESTS_REJECTED = "RequestsRejected"


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


def for_component(component: Component) -> Observability:
    """One set per handler instance. EphemeralMetrics keeps no class-level state, so the
    API and the worker can share a process (the local runtime) without mixing metrics."""
    service = f"csvprof-{component}"
    return Observability(
        logger=Logger(service=service),
        metrics=EphemeralMetrics(namespace=NAMESPACE, service=service),
        tracer=Tracer(service=service),
    )
