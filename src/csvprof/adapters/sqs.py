"""SQS adapter: the blue and green work queues."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Route

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)


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

    def postpone(self, route: Route, receipt: str, delay_s: int) -> None:
        try:
            self._sqs.change_message_visibility(
                QueueUrl=self._urls[route], ReceiptHandle=receipt, VisibilityTimeout=delay_s
            )
        except (BotoCoreError, ClientError):
            # The retry still happens, only after the queue's own visibility timeout.
            log.warning("could not shorten the visibility on %s", route, exc_info=True)
