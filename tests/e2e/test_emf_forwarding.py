"""The local runtime forwards the handlers' EMF metrics to CloudWatch (the embedded moto stack).

Parsing and batching are unit-tested without an emulator in tests/unit/test_emf_forwarder.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from csvprof.handlers import api, worker
from csvprof.local.emf import EmfForwarder
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from csvprof.observability import NAMESPACE
from tests.support.http import HttpApi, wait_for

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


@pytest.fixture
def forwarded_runtime() -> Iterator[tuple[LocalRuntime, CloudWatchClient]]:
    # A stack of its own: the session runtime's pollers (which forward nothing) must not take
    # this test's message off a shared queue.
    with EmbeddedStack() as stack:
        cloudwatch: CloudWatchClient = stack.session.client("cloudwatch", endpoint_url=stack.endpoint_url)
        handlers = (
            api.make_handler(stack.settings, stack.session),
            worker.make_handler(stack.settings, stack.session),
        )
        with LocalRuntime(stack, *handlers, emf_forwarder=EmfForwarder(cloudwatch)) as running:
            yield running, cloudwatch


def test_runtime_forwards_the_workers_metrics(
    forwarded_runtime: tuple[LocalRuntime, CloudWatchClient],
) -> None:
    running, cloudwatch = forwarded_runtime
    http = HttpApi(running.api_url)
    # Given a dataset that fails (whitespace only)
    meta = http.wait_terminal(http.upload(b" \r\n\t\n").json()["dataset_id"])
    assert meta["status"] == "FAILED"

    def failed_sum() -> float:
        now = datetime.now(UTC)
        points = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="ProfilesFailed",
            Dimensions=[{"Name": "service", "Value": "csvprof-worker"}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    # Then the worker's ProfilesFailed and the API's DatasetsAccepted reached CloudWatch
    assert wait_for(failed_sum, 10, what="ProfilesFailed in CloudWatch") >= 1
    accepted = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="DatasetsAccepted")["Metrics"]
    assert accepted
    assert accepted[0]["Dimensions"] == [{"Name": "service", "Value": "csvprof-api"}]
