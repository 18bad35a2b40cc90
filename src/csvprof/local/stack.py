"""EmbeddedStack: the csvprof resources (bucket, queues, bus) on an in-process moto server.

Moto's backends are process-global, so every stack names its resources with a random
suffix: two stacks in one test session never see each other's queues or objects.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from typing import TYPE_CHECKING, Any, Self

import boto3
import botocore.session
from botocore.config import Config

from csvprof.adapters.clients import client_config
from csvprof.config import Settings
from csvprof.contracts.events import SOURCE
from csvprof.contracts.meta import Route
from csvprof.limits import DLQ_RETENTION_S, SQS_MAX_RECEIVE_COUNT
from csvprof.local.context import DEFAULT_ACCOUNT_ID
from csvprof.local.lifecycle import Service

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# Moto accepts any credentials; these only have to be non-empty for SigV4 signing.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

# The deployed queues use limits.SQS_VISIBILITY_TIMEOUT_S (5,400 s, six worker timeouts).
# Locally that would hide a failed delivery for 90 minutes, so a retry, and the DLQ after
# three of them, could never be observed: 30 s keeps redelivery visible in a local run.
LOCAL_VISIBILITY_TIMEOUT_S = 30


def send_message_policy(service: str, queue_arn: str, source_arn: str | None = None) -> str:
    """SQS queue policy (JSON) letting an AWS service deliver to the queue, from `source_arn` if given."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
    }
    if source_arn is not None:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": source_arn}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def isolated_session(region: str) -> boto3.Session:
    """A boto3 session with fake credentials that reads no AWS config or credentials file.

    Overriding the profile and file locations means AWS_PROFILE, ~/.aws/config and
    ~/.aws/credentials are never consulted, so a local run can neither fail on a broken
    profile nor sign requests with the user's real keys.
    """
    core = botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    core.set_credentials(
        FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )
    return boto3.Session(botocore_session=core, region_name=region)


class EmbeddedStack(Service):
    """Moto in server mode on 127.0.0.1 with csvprof's bucket, queues and event bus.

    Use as a context manager; `.settings` is what the handlers get, the typed client
    factories (`s3()`, `sqs()`, `events()`) are for tests and the CLI.
    """

    def __init__(
        self,
        *,
        green_weight: int = 0,
        visibility_timeout_s: int = LOCAL_VISIBILITY_TIMEOUT_S,
        region: str = "us-east-1",
        name_prefix: str = "csvprof",
        quiet: bool = True,
    ) -> None:
        self.green_weight = green_weight
        self.visibility_timeout_s = visibility_timeout_s
        self.region = region
        self.quiet = quiet
        suffix = uuid.uuid4().hex[:10]
        self.names = {
            "bucket": f"{name_prefix}-{suffix}",
            "blue": f"{name_prefix}-{suffix}-work-blue",
            "green": f"{name_prefix}-{suffix}-work-green",
            "dlq": f"{name_prefix}-{suffix}-dlq",
            "events": f"{name_prefix}-{suffix}-events",
            "bus": f"{name_prefix}-{suffix}-bus",
            "rule": f"{name_prefix}-{suffix}-all-events",
        }
        self.session = isolated_session(region)
        self._server: Any = None
        self._endpoint_url: str | None = None
        self._settings: Settings | None = None
        self._queue_urls: dict[str, str] = {}

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("stack already started")
        # Imported here: moto is an optional dependency (the `local` extra) and pulls in
        # Flask; the Lambda package never imports this module.
        from moto.server import ThreadedMotoServer

        if self.quiet:
            self._silence_request_log()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        self._server = server
        try:
            host, port = server.get_host_and_port()
            self._endpoint_url = f"http://{host}:{port}"
            self._create_resources()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @staticmethod
    def _silence_request_log() -> None:
        # Werkzeug logs every request at INFO to stderr unless the logger is configured;
        # respect a level the user set, otherwise keep only warnings.
        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:
            werkzeug_log.setLevel(logging.WARNING)

    # --- resources ------------------------------------------------------------------

    def _create_resources(self) -> None:
        s3, sqs, events = self.s3(), self.sqs(), self.events()
        names = self.names
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=names["bucket"])
        else:
            s3.create_bucket(
                Bucket=names["bucket"],
                CreateBucketConfiguration={"LocationConstraint": self.region},  # type: ignore[typeddict-item]
            )

        dlq_url = sqs.create_queue(
            QueueName=names["dlq"], Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_S)}
        )["QueueUrl"]
        redrive = {
            "deadLetterTargetArn": self.queue_arn(names["dlq"]),
            "maxReceiveCount": SQS_MAX_RECEIVE_COUNT,
        }
        work_attributes: dict[QueueAttributeNameType, str] = {
            "VisibilityTimeout": str(self.visibility_timeout_s),
            "RedrivePolicy": json.dumps(redrive),
        }
        self._queue_urls = {
            "dlq": dlq_url,
            "blue": sqs.create_queue(QueueName=names["blue"], Attributes=work_attributes)["QueueUrl"],
            "green": sqs.create_queue(QueueName=names["green"], Attributes=work_attributes)["QueueUrl"],
        }

        # EventBridge -> "events" queue, so tests and the CLI can read what the worker emitted.
        events_arn = self.queue_arn(names["events"])
        self._queue_urls["events"] = sqs.create_queue(
            QueueName=names["events"],
            Attributes={"Policy": send_message_policy("events.amazonaws.com", events_arn)},
        )["QueueUrl"]
        events.create_event_bus(Name=names["bus"])
        events.put_rule(
            Name=names["rule"], EventBusName=names["bus"], EventPattern=json.dumps({"source": [SOURCE]})
        )
        events.put_targets(
            Rule=names["rule"], EventBusName=names["bus"], Targets=[{"Id": "events-queue", "Arn": events_arn}]
        )

        self._settings = Settings(
            bucket=names["bucket"],
            blue_queue_url=self._queue_urls["blue"],
            green_queue_url=self._queue_urls["green"],
            event_bus_name=names["bus"],
            green_weight=self.green_weight,
            endpoint_url=self._endpoint_url,
            region=self.region,
            max_receive_count=SQS_MAX_RECEIVE_COUNT,
            visibility_timeout_s=self.visibility_timeout_s,
        )

    def queue_arn(self, queue_name: str) -> str:
        # Built, not fetched: moto's account is fixed and a GetQueueAttributes per queue buys nothing.
        return f"arn:aws:sqs:{self.region}:{DEFAULT_ACCOUNT_ID}:{queue_name}"

    # --- what callers use -------------------------------------------------------------

    def _started(self) -> Settings:
        if self._settings is None:
            raise RuntimeError("EmbeddedStack is not started; use it as a context manager")
        return self._settings

    @property
    def settings(self) -> Settings:
        return self._started()

    @property
    def endpoint_url(self) -> str:
        return self._started().endpoint_url or ""

    @property
    def dlq_url(self) -> str:
        self._started()
        return self._queue_urls["dlq"]

    @property
    def events_queue_url(self) -> str:
        self._started()
        return self._queue_urls["events"]

    @property
    def work_queue_urls(self) -> dict[Route, str]:
        settings = self._started()
        return {"blue": settings.blue_queue_url, "green": settings.green_queue_url}

    def work_queue_arn(self, route: Route) -> str:
        return self.queue_arn(self.names[route])

    # Variables that would select a profile; unset them along with lambda_environment().
    PROFILE_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")

    def lambda_environment(self) -> dict[str, str]:
        """The environment a deployed function would see, plus the fake credentials.

        For code that builds clients from the default credential chain (the handlers'
        `adapters.clients`): apply it with `csvprof.local.runtime.patched_environ`.
        """
        # The files point at nothing, so no profile or real key from ~/.aws is picked up.
        isolation = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        # Lambda sets both region variables; botocore's default chain reads the second.
        isolation["AWS_DEFAULT_REGION"] = self.region
        return {**self._started().to_env(), **FAKE_CREDENTIALS, **isolation}

    def _config(self) -> Config:
        return client_config(self.region, self._endpoint_or_raise())

    def s3(self) -> S3Client:
        return self.session.client("s3", endpoint_url=self._endpoint_or_raise(), config=self._config())

    def sqs(self) -> SQSClient:
        return self.session.client("sqs", endpoint_url=self._endpoint_or_raise(), config=self._config())

    def events(self) -> EventBridgeClient:
        return self.session.client("events", endpoint_url=self._endpoint_or_raise(), config=self._config())

    def _endpoint_or_raise(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("EmbeddedStack is not started; use it as a context manager")
        return self._endpoint_url

    def receive_events(self, wait_s: int = 1, max_events: int = 10) -> list[dict[str, Any]]:
        """Take up to max_events EventBridge events off the events queue (deleting them)."""
        sqs = self.sqs()
        response = sqs.receive_message(
            QueueUrl=self.events_queue_url, MaxNumberOfMessages=min(max_events, 10), WaitTimeSeconds=wait_s
        )
        messages = response.get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=self.events_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(message["Body"]) for message in messages]
