"""SQS adapter: the blue and green work queues."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Route
from csvprof.domain.ports import DeadLetter, QueueDepth

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


class SqsDeadLetterQueue:
    """The DLQ, and the work queues its messages go back to."""

    # Long enough to forward and delete a batch; a message left behind comes back for the next run.
    RECEIVE_VISIBILITY_S = 60

    def __init__(self, sqs: SQSClient, dlq_url: str, queue_urls: dict[Route, str]) -> None:
        self._sqs = sqs
        self._dlq_url = dlq_url
        self._urls = queue_urls

    def waiting(self) -> int:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", "0"))

    def move_all(self, route: Route) -> bool:
        arns = self._sqs.get_queue_attributes(QueueUrl=self._dlq_url, AttributeNames=["QueueArn"])
        target = self._sqs.get_queue_attributes(QueueUrl=self._urls[route], AttributeNames=["QueueArn"])
        try:
            self._sqs.start_message_move_task(
                SourceArn=arns["Attributes"]["QueueArn"],
                DestinationArn=target["Attributes"]["QueueArn"],
            )
        except ClientError as exc:
            # Emulators (moto) may not have the action; the caller moves the messages itself.
            log.info("no message move task here (%s); moving message by message", exc)
            return False
        return True

    def receive(self, limit: int) -> Sequence[DeadLetter]:
        answer = self._sqs.receive_message(
            QueueUrl=self._dlq_url,
            MaxNumberOfMessages=limit,
            VisibilityTimeout=self.RECEIVE_VISIBILITY_S,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        )
        return [DeadLetter(m.get("Body", ""), m["ReceiptHandle"]) for m in answer.get("Messages", [])]

    def forward(self, route: Route, letter: DeadLetter) -> None:
        self._sqs.send_message(
            QueueUrl=self._urls[route],
            MessageBody=letter.body,
            MessageAttributes={"route": {"DataType": "String", "StringValue": route}},
        )

    def delete(self, letter: DeadLetter) -> None:
        self._sqs.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=letter.receipt)


class SqsQueueDepths:
    """Each work queue's approximate depth: visible and in flight (received, not yet deleted)."""

    def __init__(self, sqs: SQSClient, queue_urls: dict[Route, str]) -> None:
        self._sqs = sqs
        self._urls = queue_urls

    def depth(self, route: Route) -> QueueDepth:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._urls[route],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return QueueDepth(
            visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )
