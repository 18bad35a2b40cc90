"""SQS adapter: the blue and green work queues."""

from __future__ import annotations

from typing import TYPE_CHECKING

from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Route

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsWorkQueue:
    def __init__(self, sqs: SQSClient, queue_urls: dict[Route, str]) -> None:
        self._sqs = sqs
        self._urls = queue_urls

    def send(self, route: Route, message: DatasetMessage) -> None:
        self._sqs.send_message(
            QueueUrl=self._urls[route],
            MessageBody=message.to_json(),
            MessageAttributes={"route": {"DataType": "String", "StringValue": route}},
        )
