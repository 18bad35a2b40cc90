"""A deployed csvprof, found through its stack outputs: the Settings the handlers need.

The same object serves LocalStack (endpoint_url set) and real AWS (endpoint_url None);
everything is read from the outputs named in `csvprof.deploy.outputs`, nothing guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from csvprof.adapters.clients import client_config
from csvprof.config import Settings
from csvprof.contracts.meta import Route
from csvprof.deploy.outputs import MessagingOutput, ObservabilityOutput, Stack, StorageOutput, stack_name
from csvprof.deploy.stacks import Deployer

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient


@dataclass
class DeployedStack:
    """The storage, messaging and observability stacks of deployment `name`."""

    name: str
    session: boto3.Session
    endpoint_url: str | None = None
    outputs: dict[Stack, dict[str, str]] = field(default_factory=dict)

    @property
    def region(self) -> str:
        return self.session.region_name or "us-east-1"

    def _config(self) -> Config:
        return client_config(self.region, self.endpoint_url)

    def load(self, stacks: tuple[Stack, ...] = (Stack.STORAGE, Stack.MESSAGING, Stack.OBSERVABILITY)) -> None:
        deployer = Deployer(self.cloudformation())
        for stack in stacks:
            self.outputs[stack] = deployer.outputs(stack_name(self.name, stack))

    def output(self, stack: Stack, key: StorageOutput | MessagingOutput | ObservabilityOutput) -> str:
        return self.outputs[stack][key.value]

    def settings(self, green_weight: int | None = None) -> Settings:
        """What the handlers get. Unless a fixed weight is given, the API reads the live green
        weight from the routing parameter, as the deployed function does."""
        parameter = None
        if green_weight is None:
            parameter = self.output(Stack.MESSAGING, MessagingOutput.ROUTING_PARAMETER_NAME)
        return Settings(
            bucket=self.output(Stack.STORAGE, StorageOutput.BUCKET_NAME),
            blue_queue_url=self.output(Stack.MESSAGING, MessagingOutput.BLUE_QUEUE_URL),
            green_queue_url=self.output(Stack.MESSAGING, MessagingOutput.GREEN_QUEUE_URL),
            event_bus_name=self.output(Stack.MESSAGING, MessagingOutput.EVENT_BUS_NAME),
            green_weight=green_weight or 0,
            routing_parameter=parameter,
            endpoint_url=self.endpoint_url,
            region=self.region,
        )

    @property
    def work_queue_urls(self) -> dict[Route, str]:
        return {
            "blue": self.output(Stack.MESSAGING, MessagingOutput.BLUE_QUEUE_URL),
            "green": self.output(Stack.MESSAGING, MessagingOutput.GREEN_QUEUE_URL),
        }

    @property
    def dlq_url(self) -> str:
        return self.output(Stack.MESSAGING, MessagingOutput.DLQ_URL)

    # --- clients ------------------------------------------------------------------

    def cloudformation(self) -> CloudFormationClient:
        return self.session.client("cloudformation", endpoint_url=self.endpoint_url, config=self._config())

    def s3(self) -> S3Client:
        return self.session.client("s3", endpoint_url=self.endpoint_url, config=self._config())

    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self.endpoint_url, config=self._config())

    def events(self) -> EventBridgeClient:
        return self.session.client("events", endpoint_url=self.endpoint_url, config=self._config())

    def cloudwatch(self) -> CloudWatchClient:
        return self.session.client("cloudwatch", endpoint_url=self.endpoint_url, config=self._config())

    def sns(self) -> SNSClient:
        return self.session.client("sns", endpoint_url=self.endpoint_url, config=self._config())

    def ssm(self) -> SSMClient:
        return self.session.client("ssm", endpoint_url=self.endpoint_url, config=self._config())
