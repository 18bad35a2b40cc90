"""Reconciler Lambda: an EventBridge schedule -> Reconciler.run, its report as metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from csvprof.adapters.clients import events_client, s3_client, sqs_client
from csvprof.adapters.eventbridge import EventBridgePublisher
from csvprof.adapters.s3 import S3MetaRepository
from csvprof.adapters.sqs import SqsWorkQueue
from csvprof.config import Settings
from csvprof.contracts.keys import DatasetId, new_dataset_id
from csvprof.domain.reconcile import Reconciler, ReconcileReport
from csvprof.handlers.types import LambdaHandler, instrumented, lazy_handler
from csvprof.observability import Observability, ReconcilerMetric, for_component


def build_reconciler(settings: Settings, session: boto3.Session | None = None) -> Reconciler:
    return Reconciler(
        metas=S3MetaRepository(s3_client(settings, session), settings.bucket),
        queue=SqsWorkQueue(
            sqs_client(settings, session),
            {"blue": settings.blue_queue_url, "green": settings.green_queue_url},
        ),
        events=EventBridgePublisher(events_client(settings, session), settings.event_bus_name),
        now=lambda: datetime.now(UTC),
        visibility_timeout=timedelta(seconds=settings.visibility_timeout_s),
        max_receives=settings.max_receive_count,
        stale_uploaded_after=timedelta(seconds=settings.stale_uploaded_after_s),
    )


def report(obs: Observability, outcome: ReconcileReport) -> dict[str, Any]:
    """The metrics and log lines of docs/observability.md for one run; the run's summary."""
    obs.metric(ReconcilerMetric.DATASETS_RECONCILED, outcome.reconciled)
    obs.metric(ReconcilerMetric.DATASETS_REQUEUED, len(outcome.requeued))
    obs.metric(ReconcilerMetric.DATASETS_ABANDONED, len(outcome.abandoned))
    obs.metric(ReconcilerMetric.METAS_EXAMINED, outcome.examined)
    for dataset_id in outcome.requeued:
        obs.logger.warning("dataset requeued", extra={"dataset_id": dataset_id})
    for dataset_id in outcome.abandoned:
        obs.logger.warning("dataset abandoned", extra={"dataset_id": dataset_id, "code": "LEASE_EXPIRED"})
    for dataset_id in outcome.errors:
        obs.logger.error("dataset not reconciled", extra={"dataset_id": dataset_id})
    summary = {
        "examined": outcome.examined,
        "read": outcome.read,
        "requeued": list(outcome.requeued),
        "abandoned": list(outcome.abandoned),
        "errors": list(outcome.errors),
    }
    obs.logger.info("reconciled", extra=summary)
    return summary


def make_handler(
    settings: Settings, session: boto3.Session | None = None, reconciler: Reconciler | None = None
) -> LambdaHandler:
    """The reconciler function; `reconciler` replaces the AWS-backed use case (tests pass fakes)."""
    obs = for_component("reconciler")
    use_case = reconciler or build_reconciler(settings, session)
    # Where the next run continues: kept by a warm function; a cold start picks a random
    # point of the (uniform, random) id space, so no part of a large bucket is favoured.
    cursor: list[DatasetId | None] = [new_dataset_id()]

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        outcome = use_case.run(start_after=cursor[0])
        cursor[0] = outcome.resume_after
        return report(obs, outcome)

    return instrumented(obs, handler)


# The Lambda entry point; the configuration is read on the first invocation (cold start).
handler = lazy_handler(lambda: make_handler(Settings.from_env()))
