"""Worker Lambda: SQS batch -> Worker.deliver, one record at a time, partial batch responses."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from csvprof.adapters.clients import events_client, s3_client, sqs_client
from csvprof.adapters.eventbridge import EventBridgePublisher
from csvprof.adapters.s3 import S3ArtifactStore, S3MetaRepository
from csvprof.adapters.sqs import SqsWorkQueue
from csvprof.config import Settings
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Route, Status
from csvprof.domain.ports import Budget, RetryQueue
from csvprof.domain.processing import Delivery, DeliveryFailed, Outcome, Worker
from csvprof.handlers.types import LambdaHandler, instrumented, lazy_handler
from csvprof.observability import Observability, WorkerMetric, for_component
from csvprof.profiler import ArrowProfileEngine, rss_mb, tune_process
from csvprof.report import render


def build_worker(settings: Settings, session: boto3.Session | None = None) -> Worker:
    tune_process()
    s3 = s3_client(settings, session)
    return Worker(
        metas=S3MetaRepository(s3, settings.bucket),
        artifacts=S3ArtifactStore(s3, settings.bucket),
        events=EventBridgePublisher(events_client(settings, session), settings.event_bus_name),
        engine=ArrowProfileEngine(),
        now=lambda: datetime.now(UTC),
        retry_base_s=settings.retry_base_delay_s,
        render_report=render,
    )


def queue_routes(settings: Settings) -> dict[str, Route]:
    """Each work queue's name (the end of its URL and of its ARN) -> its route."""
    urls: dict[Route, str] = {"blue": settings.blue_queue_url, "green": settings.green_queue_url}
    return {url.rstrip("/").rsplit("/", 1)[-1]: route for route, url in urls.items()}


def budget_for(settings: Settings, context: LambdaContext) -> Budget:
    """The profiler's budget inside one invocation: Lambda's remaining time, this process tree's memory."""
    return Budget(
        limits=settings.limits,
        remaining_s=lambda: context.get_remaining_time_in_millis() / 1000,
        rss_mb=rss_mb,
        clock=time.monotonic,
        now=lambda: datetime.now(UTC),
    )


def report(obs: Observability, outcome: Outcome) -> None:
    """The metrics and the log line of docs/observability.md for one delivery's outcome."""
    if not outcome.processed:
        obs.logger.info("delivery skipped", extra={"status": outcome.meta.status.value})
    elif outcome.meta.status is Status.READY and outcome.profile is not None:
        profile = outcome.profile
        obs.metric(WorkerMetric.PROFILES_SUCCEEDED, 1)
        obs.metric(WorkerMetric.PROFILE_DURATION_MS, profile.runtime.duration_ms)
        obs.metric(WorkerMetric.BYTES_PROFILED, profile.dataset.bytes)
        obs.metric(WorkerMetric.ROWS_PROFILED, profile.dataset.rows)
        obs.logger.info("dataset profiled", extra={"rows": profile.dataset.rows})
    else:
        error = outcome.meta.error
        obs.metric(WorkerMetric.PROFILES_FAILED, 1)
        obs.logger.warning("dataset failed", extra={"code": error.code if error else None})


class RecordHandler:
    """One SQS record: parse the message, run the delivery through the domain, report its outcome."""

    def __init__(self, settings: Settings, worker: Worker, obs: Observability, retries: RetryQueue) -> None:
        self.settings, self.worker, self.obs, self.retries = settings, worker, obs, retries
        self.routes = queue_routes(settings)

    def __call__(self, record: SQSRecord, lambda_context: LambdaContext) -> None:
        message = DatasetMessage.parse(record.body)  # MalformedMessage: poison, retried into the DLQ
        # The queue it came from, which a redrive may have changed; the worker's version from Lambda.
        route = self.routes.get(record.event_source_arn.rsplit(":", 1)[-1], message.route)
        count = int(record.attributes.approximate_receive_count)
        delivery = Delivery(
            message, count, self.settings.max_receive_count, route, lambda_context.function_version
        )
        self.obs.logger.append_keys(dataset_id=message.dataset_id, route=route)
        self.obs.per_route(route)
        sent_ms = int(record.attributes.sent_timestamp)
        self.obs.metric(WorkerMetric.QUEUE_LATENCY_MS, max(0, int(time.time() * 1000) - sent_ms))
        try:
            report(self.obs, self.worker.deliver(delivery, budget_for(self.settings, lambda_context)))
        except DeliveryFailed as failed:
            self.obs.metric(WorkerMetric.DELIVERIES_FAILED, 1)
            self.obs.logger.warning(
                "delivery failed", extra={"retry_in_s": failed.retry_in_s, "parked": failed.parked}
            )
            self.retries.postpone(route, record.receipt_handle, failed.retry_in_s)
            raise
        finally:
            self.obs.logger.remove_keys(["dataset_id", "route"])


def make_handler(
    settings: Settings,
    session: boto3.Session | None = None,
    worker: Worker | None = None,
    retries: RetryQueue | None = None,
) -> LambdaHandler:
    """The worker function; `worker` and `retries` replace the AWS-backed ports (tests pass fakes)."""
    obs = for_component("worker")
    urls: dict[Route, str] = {"blue": settings.blue_queue_url, "green": settings.green_queue_url}
    retries = retries or SqsWorkQueue(sqs_client(settings, session), urls)
    records = RecordHandler(settings, worker or build_worker(settings, session), obs, retries)
    # With batch size 1 every failure is an "entire batch" failure; report it as a batch item
    # failure rather than raising, so Lambda's Errors metric (the worker-errors alarm) counts
    # crashes and timeouts, and retries/poison show up on the queues and the DLQ alarm instead.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        answer = process_partial_response(
            event=event, record_handler=records, processor=processor, context=context
        )
        return dict(answer)

    return instrumented(obs, handler)


handler = lazy_handler(lambda: make_handler(Settings.from_env()))
