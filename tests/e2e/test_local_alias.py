"""The local runtime serves the API through a weighted `LocalAlias` (the embedded moto stack):
requests split between two versions, each answer counted per alias and version (EMF), and the
AWS/Lambda metrics per ExecutedVersion in CloudWatch. Routing bounds are unit-tested in
tests/unit/test_local_aliases.py."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from csvprof.handlers import api, worker
from csvprof.local.aliases import AliasRouting, LocalAlias
from csvprof.local.emf import EmfForwarder
from csvprof.local.runtime import LocalRuntime
from csvprof.local.stack import EmbeddedStack
from csvprof.observability import NAMESPACE
from tests.support.http import HttpApi

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

REQUESTS = 60


@pytest.fixture
def aliased() -> Iterator[tuple[HttpApi, LocalAlias, CloudWatchClient]]:
    with EmbeddedStack() as stack:
        cloudwatch: CloudWatchClient = stack.session.client("cloudwatch", endpoint_url=stack.endpoint_url)
        versions = {v: api.make_handler(stack.settings, stack.session) for v in ("1", "2")}
        live = LocalAlias(
            "csvprof-api",
            "live",
            versions,
            AliasRouting("1", {"2": 0.5}),
            cloudwatch=cloudwatch,
            rng=random.Random(3),
        )
        handlers = (live, worker.make_handler(stack.settings, stack.session))
        with LocalRuntime(stack, *handlers, emf_forwarder=EmfForwarder(cloudwatch)) as running:
            yield HttpApi(running.api_url), live, cloudwatch


def _sum(
    cloudwatch: CloudWatchClient,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    *,
    samples: bool = False,
) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )["Datapoints"]
    return sum(p["SampleCount"] if samples else p["Sum"] for p in points)


def test_requests_split_between_versions_and_each_is_measured(
    aliased: tuple[HttpApi, LocalAlias, CloudWatchClient],
) -> None:
    http, _, cloudwatch = aliased
    assert {http.call("GET", "/datasets?limit=1").status for _ in range(REQUESTS)} == {200}

    resource = {"FunctionName": "csvprof-api", "Resource": "csvprof-api:live"}
    per_version = {
        v: _sum(cloudwatch, "AWS/Lambda", "Invocations", {**resource, "ExecutedVersion": v}) for v in "12"
    }
    assert sum(per_version.values()) == REQUESTS
    assert min(per_version.values()) > REQUESTS * 0.2, per_version  # both versions served
    assert _sum(cloudwatch, "AWS/Lambda", "Errors", resource) == 0
    # The API's own answers, by the alias and the version that gave them.
    for version, count in per_version.items():
        answered = {"service": "csvprof-api", "Alias": "live", "FunctionVersion": version}
        assert _sum(cloudwatch, NAMESPACE, "ApiLatencyMs", answered, samples=True) == count
    # What the api-live-5xx alarm reads: its exact dimension set exists, and no answer was a 5xx.
    # (moto also counts supersets of the dimensions asked, so sample counts are not compared here.)
    listed = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="ApiResponses5xx")["Metrics"]
    alias_set = {"service": "csvprof-api", "Alias": "live"}
    assert alias_set in [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in listed]
    assert _sum(cloudwatch, NAMESPACE, "ApiResponses5xx", alias_set) == 0
