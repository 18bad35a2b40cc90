"""LocalAlias routes by weight and publishes the AWS/Lambda metrics Lambda would (fake CloudWatch)."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from csvprof.local.aliases import AliasRouting, LocalAlias, TooManyRequestsError, qualified_context
from csvprof.local.context import LambdaContext, new_context
from csvprof.observability import invoked_alias


class FakeCloudWatch:
    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []

    def put_metric_data(self, *, Namespace: str, MetricData: Any) -> Any:  # noqa: N803 - boto3's names
        assert Namespace == "AWS/Lambda"
        self.data.extend(MetricData)

    def values(self, name: str, **dimensions: str) -> list[float]:
        """Values of `name` published with exactly these dimensions."""
        wanted = sorted(dimensions.items())
        return [
            d["Value"]
            for d in self.data
            if d["MetricName"] == name and sorted((x["Name"], x["Value"]) for x in d["Dimensions"]) == wanted
        ]


def context() -> LambdaContext:
    return new_context("csvprof-api", memory_mb=256, timeout_s=10, region="us-east-1")


def echo(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"version": ctx.function_version, "arn": ctx.invoked_function_arn}


def boom(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
    raise RuntimeError("unhandled")


def test_the_function_sees_the_version_that_runs_and_the_alias_it_was_invoked_through() -> None:
    alias = LocalAlias("csvprof-api", "live", {"1": echo}, AliasRouting("1"))
    answer = alias({}, context())
    assert answer == {
        "version": "1",
        "arn": "arn:aws:lambda:us-east-1:123456789012:function:csvprof-api:live",
    }
    assert invoked_alias(qualified_context(context(), alias="live", version="1")) == "live"
    assert invoked_alias(context()) == "$LATEST"


@pytest.mark.parametrize("weight", [0.1, 0.5])
def test_invocations_split_by_weight_within_statistical_bounds(weight: float) -> None:
    n = 4000
    alias = LocalAlias(
        "csvprof-api",
        "live",
        {"1": echo, "2": echo},
        AliasRouting("1", {"2": weight}),
        rng=random.Random(20261203),
    )
    new = sum(alias({}, context())["version"] == "2" for _ in range(n))
    # Binomial(n, weight): within 4 standard deviations (a false failure is ~1 in 15,000 seeds).
    sigma = math.sqrt(n * weight * (1 - weight))
    assert abs(new - n * weight) < 4 * sigma, new


def test_zero_and_full_weight_are_exact() -> None:
    alias = LocalAlias(
        "f", "live", {"1": echo, "2": echo}, AliasRouting("1", {"2": 0.0}), rng=random.Random(1)
    )
    assert {alias({}, context())["version"] for _ in range(200)} == {"1"}
    alias.update(AliasRouting("2"))
    assert {alias({}, context())["version"] for _ in range(200)} == {"2"}


def test_routing_is_validated_as_lambda_does() -> None:
    with pytest.raises(ValueError, match="at most one"):
        AliasRouting("1", {"2": 0.1, "3": 0.1})
    with pytest.raises(ValueError, match="invalid additional version weight"):
        AliasRouting("1", {"2": 1.5})
    alias = LocalAlias("f", "live", {"1": echo}, AliasRouting("1"))
    with pytest.raises(ValueError, match="no such version"):
        alias.update(AliasRouting("1", {"9": 0.1}))


def test_metrics_per_function_alias_and_executed_version() -> None:
    cloudwatch = FakeCloudWatch()
    alias = LocalAlias(
        "csvprof-api",
        "live",
        {"1": echo, "2": boom},
        AliasRouting("1", {"2": 0.5}),
        cloudwatch=cloudwatch,
        rng=random.Random(7),
    )
    outcomes = []
    for _ in range(40):
        try:
            outcomes.append(alias({}, context())["version"])
        except RuntimeError:
            outcomes.append("2")
    resource = {"FunctionName": "csvprof-api", "Resource": "csvprof-api:live"}
    for version in ("1", "2"):
        count = outcomes.count(version)
        assert sum(cloudwatch.values("Invocations", **resource, ExecutedVersion=version)) == count
        assert len(cloudwatch.values("Duration", **resource, ExecutedVersion=version)) == count
    # An unhandled exception is an Error; a returned answer (even a 500 body) is not.
    assert sum(cloudwatch.values("Errors", **resource, ExecutedVersion="2")) == outcomes.count("2")
    assert sum(cloudwatch.values("Errors", **resource, ExecutedVersion="1")) == 0
    assert sum(cloudwatch.values("Errors", **resource)) == outcomes.count("2")
    assert sum(cloudwatch.values("Invocations", FunctionName="csvprof-api")) == 40
    assert all(v >= 0 for v in cloudwatch.values("Duration", FunctionName="csvprof-api"))
    units = {d["MetricName"]: d["Unit"] for d in cloudwatch.data}
    assert units == {"Invocations": "Count", "Errors": "Count", "Duration": "Milliseconds"}


def test_past_the_reserved_concurrency_an_invocation_is_throttled() -> None:
    cloudwatch = FakeCloudWatch()
    alias: LocalAlias

    def reentrant(event: dict[str, Any], ctx: Any) -> Any:
        # A second invocation while this one runs: the single reserved execution is taken.
        with pytest.raises(TooManyRequestsError):
            alias({}, context())
        return {"ok": True}

    alias = LocalAlias(
        "f", "live", {"1": reentrant}, AliasRouting("1"), cloudwatch=cloudwatch, reserved_concurrency=1
    )
    assert alias({}, context()) == {"ok": True}
    assert cloudwatch.values("Throttles", FunctionName="f") == [1.0]
    assert cloudwatch.values("Throttles", FunctionName="f", Resource="f:live") == [1.0]
    assert sum(cloudwatch.values("Invocations", FunctionName="f")) == 1  # a throttle is no invocation


def test_a_failing_metric_sink_never_changes_the_result() -> None:
    from botocore.exceptions import EndpointConnectionError

    class Down:
        def put_metric_data(self, *, Namespace: str, MetricData: Any) -> Any:  # noqa: N803 - boto3's names
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    alias = LocalAlias("f", "live", {"1": echo}, AliasRouting("1"), cloudwatch=Down())
    assert alias({}, context())["version"] == "1"
