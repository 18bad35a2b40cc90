"""EMF forwarding: what CloudWatch Logs does with the metrics a Lambda function prints.

On AWS, Powertools prints one Embedded Metric Format (EMF) JSON object per invocation to
stdout, and CloudWatch Logs turns it into metrics. No emulator runs that extraction
(LocalStack has no Lambda here, moto none at all), so the local runtime can opt in to
this module: `forwarding(handler, forwarder)` captures what the handler prints on its
own invocation thread, and `EmfForwarder` sends each EMF blob's metrics with
`PutMetricData`. Alarms on `CsvProf` metrics can then fire against an emulator.

Capture is per thread: the API and the workers run concurrently in one process, and each
invocation runs on a thread of its own (see `LocalGateway.invoke`, `SqsPoller._invoke`).
Output still reaches the real stdout; only a copy is parsed.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

# PutMetricData accepts up to 1,000 data points per call.
MAX_DATUMS_PER_CALL = 1000


class EmfFormatError(ValueError):
    """A line that claims to be EMF (`_aws.CloudWatchMetrics`) but breaks the specification."""


@dataclass(frozen=True, slots=True)
class Datum:
    """One metric value of one dimension set, ready for PutMetricData."""

    namespace: str
    name: str
    unit: str
    values: tuple[float, ...]
    dimensions: tuple[tuple[str, str], ...]
    timestamp: datetime
    storage_resolution: int = 60

    def to_api(self) -> MetricDatumTypeDef:
        datum: MetricDatumTypeDef = {
            "MetricName": self.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Timestamp": self.timestamp,
            "Unit": self.unit,  # type: ignore[typeddict-item]  # EMF units are CloudWatch's names
            "StorageResolution": self.storage_resolution,
        }
        if len(self.values) == 1:
            datum["Value"] = self.values[0]
        else:
            datum["Values"] = list(self.values)
        return datum


def parse_line(line: str) -> list[Datum]:
    """The data points of one output line: [] when it is not EMF; EmfFormatError when it is broken EMF."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        blob = json.loads(text)
    except json.JSONDecodeError:
        return []
    if not isinstance(blob, dict) or not isinstance(blob.get("_aws"), dict):
        return []
    meta = blob["_aws"]
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise EmfFormatError("_aws.CloudWatchMetrics must be a list")
    timestamp_ms = meta.get("Timestamp")
    if not isinstance(timestamp_ms, int):
        raise EmfFormatError("_aws.Timestamp must be milliseconds since the epoch")
    timestamp = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return [datum for directive in directives for datum in _directive(blob, directive, timestamp)]


def _directive(blob: dict[str, Any], directive: Any, timestamp: datetime) -> Iterator[Datum]:
    if not isinstance(directive, dict) or not isinstance(directive.get("Namespace"), str):
        raise EmfFormatError("each directive needs a Namespace")
    dimension_sets = directive.get("Dimensions", [])
    metrics = directive.get("Metrics")
    if not isinstance(dimension_sets, list) or not isinstance(metrics, list):
        raise EmfFormatError("Dimensions and Metrics must be lists")
    resolved_sets: list[tuple[tuple[str, str], ...]] = []
    for keys in dimension_sets or [[]]:
        if not isinstance(keys, list) or any(not isinstance(blob.get(k), str) for k in keys):
            raise EmfFormatError(f"dimension set {keys!r} names a missing or non-string member")
        resolved_sets.append(tuple((k, blob[k]) for k in keys))
    for metric in metrics:
        if not isinstance(metric, dict) or not isinstance(metric.get("Name"), str):
            raise EmfFormatError("each metric definition needs a Name")
        name = metric["Name"]
        raw = blob.get(name)
        values = tuple(raw) if isinstance(raw, list) else (raw,)
        if not values or not all(_is_number(v) for v in values):
            raise EmfFormatError(f"metric {name!r} has no numeric value")
        for dimensions in resolved_sets:
            yield Datum(
                namespace=directive["Namespace"],
                name=name,
                unit=str(metric.get("Unit", "None")),
                values=tuple(float(v) for v in values),
                dimensions=dimensions,
                timestamp=timestamp,
                storage_resolution=int(metric.get("StorageResolution", 60)),
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class EmfForwarder:
    """Sends the EMF metrics found in function output to CloudWatch (PutMetricData)."""

    def __init__(self, cloudwatch: CloudWatchClient) -> None:
        self.cloudwatch = cloudwatch
        self.forwarded = 0
        self._lock = threading.Lock()

    def forward_text(self, text: str) -> int:
        """Forward every EMF line in `text`; returns the number of data points sent."""
        data = [datum for line in text.splitlines() for datum in parse_line(line)]
        return self.forward(data)

    def forward(self, data: Iterable[Datum]) -> int:
        by_namespace: dict[str, list[MetricDatumTypeDef]] = {}
        for datum in data:
            by_namespace.setdefault(datum.namespace, []).append(datum.to_api())
        sent = 0
        for namespace, items in by_namespace.items():
            for start in range(0, len(items), MAX_DATUMS_PER_CALL):
                chunk = items[start : start + MAX_DATUMS_PER_CALL]
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=chunk)
                sent += len(chunk)
        with self._lock:
            self.forwarded += sent
        return sent


# --- capturing a handler's output ------------------------------------------------------

_capture = threading.local()


class _ThreadTee(io.TextIOBase):
    """Stands in for sys.stdout: writes go to the stream it wraps and, on a thread that is
    running a captured invocation, also into that invocation's buffer."""

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        buffer: list[str] | None = getattr(_capture, "buffer", None)
        if buffer is not None:
            buffer.append(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()


_install_lock = threading.Lock()


def _ensure_tee() -> None:
    # Checked on every invocation: a test runner may swap sys.stdout between tests.
    with _install_lock:
        if not isinstance(sys.stdout, _ThreadTee):
            sys.stdout = _ThreadTee(sys.stdout)


def forwarding(handler: Handler, forwarder: EmfForwarder) -> Handler:
    """`handler`, with the EMF it prints on its invocation thread forwarded when it returns.

    Forwarding runs whether the handler returned or raised (Powertools flushes metrics in
    a `finally`), as CloudWatch Logs extracts metrics from a failed invocation's log too.
    A forwarding failure is logged and never changes the invocation's result: on AWS the
    function does not see the extraction either.
    """

    def wrapped(event: dict[str, Any], context: Any) -> Any:
        _ensure_tee()
        buffer: list[str] = []
        _capture.buffer = buffer
        try:
            return handler(event, context)
        finally:
            _capture.buffer = None
            try:
                forwarder.forward_text("".join(buffer))
            except (BotoCoreError, ClientError, EmfFormatError):
                log.exception("EMF forwarding to CloudWatch failed")

    return wrapped
