"""boto3 clients for a target: real AWS (endpoint None) or an emulator endpoint.

`session` is None in Lambda (the function role's credentials); the local stack passes
its own session with fake credentials so a local run never touches a real account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from csvprof.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


def _config(settings: Settings) -> Config:
    # Emulators listen on 127.0.0.1, where virtual-host bucket names cannot resolve.
    s3 = {"addressing_style": "path"} if settings.endpoint_url else {}
    return Config(region_name=settings.region, retries={"mode": "standard"}, s3=s3)  # type: ignore[arg-type]


def s3_client(settings: Settings, session: boto3.Session | None = None) -> S3Client:
    return (session or boto3.Session()).client(
        "s3", endpoint_url=settings.endpoint_url, config=_config(settings)
    )


def sqs_client(settings: Settings, session: boto3.Session | None = None) -> SQSClient:
    return (session or boto3.Session()).client(
        "sqs", endpoint_url=settings.endpoint_url, config=_config(settings)
    )


def events_client(settings: Settings, session: boto3.Session | None = None) -> EventBridgeClient:
    return (session or boto3.Session()).client(
        "events", endpoint_url=settings.endpoint_url, config=_config(settings)
    )


def ssm_client(settings: Settings, session: boto3.Session | None = None) -> SSMClient:
    return (session or boto3.Session()).client(
        "ssm", endpoint_url=settings.endpoint_url, config=_config(settings)
    )
