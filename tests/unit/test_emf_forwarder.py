"""The EMF forwarder: Powertools' EMF lines become PutMetricData calls, per invocation thread."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csvprof.local.emf import EmfFormatError, EmfForwarder, forwarding, parse_line
from csvprof.observability import NAMESPACE, WorkerMetric, for_component


def powertools_emf(component: str = "worker", **metrics: float) -> str:
    """The line Powertools prints for these metrics (its own serializer, not a hand-written copy)."""
    obs = for_component("worker" if component == "worker" else "api")
    for name, value in metrics.items():
        obs.metric(WorkerMetric(name), value)
    return json.dumps(obs.metrics.serialize_metric_set(), separators=(",", ":"))


class RecordingCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {}


def test_a_powertools_blob_parses_to_one_datum_per_metric() -> None:
    data = parse_line(powertools_emf(ProfilesFailed=1, QueueLatencyMs=42))
    by_name = {d.name: d for d in data}
    assert set(by_name) == {"ProfilesFailed", "QueueLatencyMs"}
    failed = by_name["ProfilesFailed"]
    assert (failed.namespace, failed.unit, failed.values) == (NAMESPACE, "Count", (1.0,))
    assert failed.dimensions == (("service", "csvprof-worker"),)
    assert abs(failed.timestamp - datetime.now(UTC)) < timedelta(seconds=5)
    assert by_name["QueueLatencyMs"].unit == "Milliseconds"


@pytest.mark.parametrize(
    "line",
    ["", "plain text", '{"level":"INFO","message":"dataset profiled"}', "{not json", '["_aws"]'],
)
def test_lines_that_are_not_emf_are_ignored(line: str) -> None:
    assert parse_line(line) == []


@pytest.mark.parametrize(
    "blob",
    [
        {"_aws": {"Timestamp": 1, "CloudWatchMetrics": "no"}},
        {"_aws": {"CloudWatchMetrics": []}},
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {"Namespace": "N", "Dimensions": [["svc"]], "Metrics": [{"Name": "M"}]}
                ],
            },
            "M": 1,
        },
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [], "Metrics": [{"Name": "M"}]}],
            },
            "M": "one",
        },
    ],
    ids=["directives-not-a-list", "no-timestamp", "missing-dimension-value", "non-numeric-value"],
)
def test_broken_emf_is_an_error(blob: dict[str, Any]) -> None:
    with pytest.raises(EmfFormatError):
        parse_line(json.dumps(blob))


def test_array_values_and_empty_dimension_sets() -> None:
    blob = {
        "_aws": {
            "Timestamp": 0,
            "CloudWatchMetrics": [
                {"Namespace": "N", "Dimensions": [[]], "Metrics": [{"Name": "M", "Unit": "Bytes"}]}
            ],
        },
        "M": [1, 2, 3],
    }
    [datum] = parse_line(json.dumps(blob))
    assert datum.values == (1.0, 2.0, 3.0)
    assert datum.to_api()["Values"] == [1.0, 2.0, 3.0]
    assert datum.to_api()["Dimensions"] == []


def test_forwarder_batches_per_namespace() -> None:
    cloudwatch = RecordingCloudWatch()
    forwarder = EmfForwarder(cloudwatch)  # type: ignore[arg-type]
    sent = forwarder.forward_text(
        "\n".join([powertools_emf(ProfilesFailed=1), "log line", powertools_emf(ProfilesSucceeded=1)])
    )
    assert sent == 2 == forwarder.forwarded
    [call] = cloudwatch.calls
    assert call["Namespace"] == NAMESPACE
    assert {d["MetricName"] for d in call["MetricData"]} == {"ProfilesFailed", "ProfilesSucceeded"}


def test_forwarding_captures_only_the_invocation_thread(capsys: pytest.CaptureFixture[str]) -> None:
    cloudwatch = RecordingCloudWatch()
    forwarder = EmfForwarder(cloudwatch)  # type: ignore[arg-type]
    inside = threading.Event()
    release = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        print(powertools_emf(ProfilesFailed=1))
        inside.set()
        release.wait(5)
        return {"ok": True}

    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(forwarding(handler, forwarder)({}, None)))
    thread.start()
    assert inside.wait(5)
    print(powertools_emf(ProfilesSucceeded=1))  # another thread, printing at the same time
    release.set()
    thread.join(5)
    assert result == [{"ok": True}]
    [call] = cloudwatch.calls
    assert [d["MetricName"] for d in call["MetricData"]] == ["ProfilesFailed"]
    # The output still reaches stdout: forwarding copies it, it does not swallow it.
    assert capsys.readouterr().out.count('"_aws"') == 2


def test_forwarding_happens_when_the_handler_raises() -> None:
    cloudwatch = RecordingCloudWatch()

    def handler(event: dict[str, Any], context: Any) -> Any:
        print(powertools_emf(ProfilesFailed=1))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        forwarding(handler, EmfForwarder(cloudwatch))({}, None)  # type: ignore[arg-type]
    assert len(cloudwatch.calls) == 1


def test_a_cloudwatch_failure_does_not_change_the_result() -> None:
    from botocore.exceptions import EndpointConnectionError

    class Down:
        def put_metric_data(self, **kwargs: Any) -> None:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    def handler(event: dict[str, Any], context: Any) -> str:
        print(powertools_emf(ProfilesFailed=1))
        return "done"

    assert forwarding(handler, EmfForwarder(Down()))({}, None) == "done"  # type: ignore[arg-type]
