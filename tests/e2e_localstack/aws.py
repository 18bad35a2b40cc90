"""LocalStack sessions and clients, from the `localstack-client` package.

`localstack_client.session.Session` points every boto3 client at LocalStack's edge endpoint
(the `localstack_host` given, else LOCALSTACK_HOST, else localhost:4566) with LocalStack's
fake credentials, which it passes explicitly: no AWS credentials of the user's are looked up.
This layer builds no endpoint URL or credentials by hand. The production code (src/) keeps
plain boto3 with an endpoint URL; the handlers and `DeployedStack` only call
`session.client(name, **kwargs)` and read `session.region_name`, which the LocalStack session
provides, so it is the session they get here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from localstack_client.config import get_service_endpoint
from localstack_client.session import Session

from csvprof.adapters.clients import client_config

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

REGION = "us-east-1"


@dataclass(frozen=True)
class LocalStack:
    """One running LocalStack: its edge endpoint and a localstack-client session for it."""

    session: Session
    localstack_host: str

    @classmethod
    def at(cls, endpoint: str | None = None, region: str = REGION) -> LocalStack:
        """LocalStack at `endpoint` (http://host:port); None: where localstack-client looks by
        default (LOCALSTACK_HOST, else localhost:4566)."""
        host = urlsplit(endpoint).netloc if endpoint else None
        session = Session(localstack_host=host, region_name=region)
        return cls(session, host or urlsplit(get_service_endpoint("edge")).netloc)

    @property
    def endpoint_url(self) -> str:
        """The edge URL localstack-client computed: what Settings.endpoint_url gets for the handlers."""
        url = get_service_endpoint("edge", self.localstack_host)
        assert url is not None
        return url

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def boto3_session(self) -> boto3.Session:
        """The session, where code typed for `boto3.Session` takes one (it uses the same two members)."""
        return cast("boto3.Session", self.session)

    def client(self, service: str) -> Any:
        # Path-style S3: LocalStack listens on an address where bucket subdomains do not resolve.
        return self.session.client(service, config=client_config(self.region, self.endpoint_url))

    def cloudformation(self) -> CloudFormationClient:
        return cast("CloudFormationClient", self.client("cloudformation"))

    def cloudwatch(self) -> CloudWatchClient:
        return cast("CloudWatchClient", self.client("cloudwatch"))

    def events(self) -> EventBridgeClient:
        return cast("EventBridgeClient", self.client("events"))

    def logs(self) -> CloudWatchLogsClient:
        return cast("CloudWatchLogsClient", self.client("logs"))

    def s3(self) -> S3Client:
        return cast("S3Client", self.client("s3"))

    def sns(self) -> SNSClient:
        return cast("SNSClient", self.client("sns"))

    def sqs(self) -> SQSClient:
        return cast("SQSClient", self.client("sqs"))

    def ssm(self) -> SSMClient:
        return cast("SSMClient", self.client("ssm"))
