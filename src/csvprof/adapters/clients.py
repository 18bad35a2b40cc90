"""boto3 clients for a target: real AWS (endpoint None) or an emulator endpoint.

`session` is None in Lambda (the function role's credentials); the local stack passes
its own session with fake credentials so a local run never touches a real account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config

from csvprof.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


def client_config(region: str | None, endpoint_url: str | None) -> Config:
    """The botocore Config for every csvprof client: standard retries, and path-style S3
    on an emulator, which listens on 127.0.0.1 where virtual-host bucket names cannot resolve."""
    s3 = {"addressing_style": "path"} if endpoint_url else {}
    return Config(region_name=region, retries={"mode": "standard"}, s3=s3)  # type: ignore[arg-type]


def _config(settings: Settings) -> Config:
    return client_config(settings.region, settings.endpoint_url)


def _client(service: str, settings: Settings, session: boto3.Session | None) -> Any:
    return (session or boto3.Session()).client(  # type: ignore[call-overload]
        service, endpoint_url=settings.endpoint_url, config=_config(settings)
    )


def s3_client(settings: Settings, session: boto3.Session | None = None) -> S3Client:
    return cast("S3Client", _client("s3", settings, session))


def sqs_client(settings: Settings, session: boto3.Session | None = None) -> SQSClient:
    return cast("SQSClient", _client("sqs", settings, session))


def events_client(settings: Settings, session: boto3.Session | None = None) -> EventBridgeClient:
    return cast("EventBridgeClient", _client("events", settings, session))


def ssm_client(settings: Settings, session: boto3.Session | None = None) -> SSMClient:
    return cast("SSMClient", _client("ssm", settings, session))


def canary_client(
    service: str, endpoint_url: str | None, region: str, session: boto3.Session | None = None
) -> Any:
    """A client for the canary hooks ("lambda", "codedeploy"; untyped: no stubs are pinned)."""
    return (session or boto3.Session()).client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint_url, config=client_config(region, endpoint_url)
    )


def cloudwatch_client(
    endpoint_url: str | None, region: str, session: boto3.Session | None = None
) -> CloudWatchClient:
    return cast("CloudWatchClient", canary_client("cloudwatch", endpoint_url, region, session))
