"""Configuration: one typed object, read once at cold start and passed down."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from csvprof.limits import (
    RECONCILE_STALE_UPLOADED_S,
    RETRY_BASE_DELAY_S,
    SQS_MAX_RECEIVE_COUNT,
    SQS_VISIBILITY_TIMEOUT_S,
    ProfileLimits,
)

VISIBILITY_VARIABLE = "CSVPROF_VISIBILITY_TIMEOUT_S"
STALE_UPLOADED_VARIABLE = "CSVPROF_STALE_UPLOADED_AFTER_S"
RETRY_BASE_VARIABLE = "CSVPROF_RETRY_BASE_DELAY_S"
ROUTING_CACHE_VARIABLE = "CSVPROF_ROUTING_CACHE_S"
# How long the API keeps the weight it read (csvprof.adapters.ssm.MAX_AGE_S, the deployed value).
ROUTING_CACHE_S = 60


@dataclass(frozen=True, slots=True)
class Settings:
    bucket: str
    blue_queue_url: str
    green_queue_url: str
    event_bus_name: str
    # Share of new datasets routed to the green queue, 0-100 (blue/green routing policy).
    green_weight: int = 0
    # SSM parameter holding the live green weight; when set, it overrides green_weight and
    # is re-read at most once a minute, so a rollout step needs no redeploy.
    routing_parameter: str | None = None
    # None on AWS; an emulator URL (moto, LocalStack) otherwise. Only this differs between targets.
    endpoint_url: str | None = None
    region: str = "us-east-1"
    max_receive_count: int = SQS_MAX_RECEIVE_COUNT
    limits: ProfileLimits = field(default_factory=ProfileLimits)
    # The reconciler's thresholds: the work queues' visibility timeout (leases are counted in
    # it) and how long a dataset may stay UPLOADED. Local stacks shrink both.
    visibility_timeout_s: float = SQS_VISIBILITY_TIMEOUT_S
    stale_uploaded_after_s: float = RECONCILE_STALE_UPLOADED_S
    # The worker's first retry delay after an unexpected failure; tests shrink it.
    retry_base_delay_s: float = RETRY_BASE_DELAY_S
    # How long the API caches the routing parameter; a test watching rollout steps shrinks it.
    routing_cache_s: int = ROUTING_CACHE_S

    def __post_init__(self) -> None:
        if not 0 <= self.green_weight <= 100:
            raise ValueError(f"green_weight must be 0-100, got {self.green_weight}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            bucket=env["CSVPROF_BUCKET"],
            blue_queue_url=env["CSVPROF_BLUE_QUEUE_URL"],
            green_queue_url=env["CSVPROF_GREEN_QUEUE_URL"],
            event_bus_name=env["CSVPROF_EVENT_BUS_NAME"],
            green_weight=int(env.get("CSVPROF_GREEN_WEIGHT", "0")),
            routing_parameter=env.get("CSVPROF_ROUTING_PARAMETER") or None,
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            max_receive_count=int(env.get("CSVPROF_MAX_RECEIVE_COUNT", str(SQS_MAX_RECEIVE_COUNT))),
            visibility_timeout_s=float(env.get(VISIBILITY_VARIABLE, SQS_VISIBILITY_TIMEOUT_S)),
            stale_uploaded_after_s=float(env.get(STALE_UPLOADED_VARIABLE, RECONCILE_STALE_UPLOADED_S)),
            retry_base_delay_s=float(env.get(RETRY_BASE_VARIABLE, RETRY_BASE_DELAY_S)),
            routing_cache_s=int(env.get(ROUTING_CACHE_VARIABLE, ROUTING_CACHE_S)),
        )

    def to_env(self) -> dict[str, str]:
        """The environment a Lambda function gets (the inverse of from_env)."""
        env = {
            "CSVPROF_BUCKET": self.bucket,
            "CSVPROF_BLUE_QUEUE_URL": self.blue_queue_url,
            "CSVPROF_GREEN_QUEUE_URL": self.green_queue_url,
            "CSVPROF_EVENT_BUS_NAME": self.event_bus_name,
            "CSVPROF_GREEN_WEIGHT": str(self.green_weight),
            "CSVPROF_MAX_RECEIVE_COUNT": str(self.max_receive_count),
            "AWS_REGION": self.region,
        }
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.routing_parameter:
            env["CSVPROF_ROUTING_PARAMETER"] = self.routing_parameter
        if self.routing_cache_s != ROUTING_CACHE_S:
            env[ROUTING_CACHE_VARIABLE] = str(self.routing_cache_s)
        # Only the reconciler reads these; a deployed one gets the first from messaging.
        if self.visibility_timeout_s != SQS_VISIBILITY_TIMEOUT_S:
            env[VISIBILITY_VARIABLE] = str(self.visibility_timeout_s)
        if self.stale_uploaded_after_s != RECONCILE_STALE_UPLOADED_S:
            env[STALE_UPLOADED_VARIABLE] = str(self.stale_uploaded_after_s)
        if self.retry_base_delay_s != RETRY_BASE_DELAY_S:
            env[RETRY_BASE_VARIABLE] = str(self.retry_base_delay_s)
        return env


# The canary hooks' environment (infra/cloudformation/compute.yaml sets it per deployment).
CANARY_FUNCTION_VARIABLE = "CSVPROF_CANARY_FUNCTION"
CANARY_VERSION_VARIABLE = "CSVPROF_CANARY_VERSION"
CANARY_ALARMS_VARIABLE = "CSVPROF_CANARY_ALARMS"


@dataclass(frozen=True, slots=True)
class CanarySettings:
    """The lifecycle hooks' configuration: the API function and the version this deployment
    published (the before hook), the deployment group's alarm names (the after hook)."""

    api_function: str = ""
    version: str = ""
    alarm_names: tuple[str, ...] = ()
    endpoint_url: str | None = None
    region: str = "us-east-1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CanarySettings:
        env = os.environ if env is None else env
        alarms = env.get(CANARY_ALARMS_VARIABLE, "")
        return cls(
            api_function=env.get(CANARY_FUNCTION_VARIABLE, ""),
            version=env.get(CANARY_VERSION_VARIABLE, ""),
            alarm_names=tuple(a.strip() for a in alarms.split(",") if a.strip()),
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )
