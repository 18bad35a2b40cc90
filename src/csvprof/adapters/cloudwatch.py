"""CloudWatch adapter: the states of the alarms that judge a colour during a rollout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from csvprof.contracts.meta import Route

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

# What an alarm that no longer exists (or never did) reads as: never ALARM, but visible in the log.
MISSING = "MISSING"


class CloudWatchAlarms:
    """`DescribeAlarms` on each colour's alarms (by name: `<Name>-worker-failures-<colour>`, ...)."""

    def __init__(self, cloudwatch: CloudWatchClient, names: Mapping[Route, Sequence[str]]) -> None:
        self._cloudwatch = cloudwatch
        self._names = {route: list(names[route]) for route in names}

    def states(self, route: Route) -> dict[str, str]:
        names = self._names.get(route, [])
        if not names:
            return {}
        answer = self._cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"])
        found = {alarm["AlarmName"]: alarm["StateValue"] for alarm in answer.get("MetricAlarms", [])}
        return {name: found.get(name, MISSING) for name in names}
