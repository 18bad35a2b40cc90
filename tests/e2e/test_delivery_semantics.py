"""At-least-once delivery: duplicates and redeliveries neither repeat work nor lose an update."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from csvprof.adapters.s3 import S3MetaRepository
from csvprof.contracts import keys
from csvprof.domain.state import update_meta
from csvprof.local.stack import EmbeddedStack
from tests.conftest import EXAMPLES
from tests.support.pipeline import Pipeline


def sqs_message_with_count(message: dict[str, Any], count: int) -> dict[str, Any]:
    return {**message, "Attributes": {**message["Attributes"], "ApproximateReceiveCount": str(count)}}


def events_of(stack: EmbeddedStack, dataset_id: str) -> list[dict[str, Any]]:
    return [e for e in stack.receive_events(wait_s=1) if e["detail"]["dataset_id"] == dataset_id]


def test_duplicate_delivery_is_skipped_and_redelivery_resends_the_event() -> None:
    with EmbeddedStack() as stack:
        pipe = Pipeline.on(stack)
        status, accepted = pipe.upload((EXAMPLES / "orders.csv").read_bytes())
        assert status == 202
        dataset_id = accepted["dataset_id"]
        meta = pipe.s3_json(keys.meta_key(dataset_id))
        message = pipe.take_message(meta["route"])

        # First delivery profiles the dataset.
        assert pipe.run_worker(message, meta["route"]) == {"batchItemFailures": []}
        first = pipe.s3_json(keys.meta_key(dataset_id))
        assert (first["status"], first["attempts"]) == ("READY", 1)
        assert len(events_of(stack, dataset_id)) == 1

        # A duplicate of the same delivery (receive count 1) changes nothing and sends nothing.
        assert pipe.run_worker(message, meta["route"]) == {"batchItemFailures": []}
        assert pipe.s3_json(keys.meta_key(dataset_id)) == first
        assert events_of(stack, dataset_id) == []

        # A redelivery (receive count 2) of a finished dataset re-sends its event, nothing more.
        assert pipe.run_worker(sqs_message_with_count(message, 2), meta["route"]) == {"batchItemFailures": []}
        assert pipe.s3_json(keys.meta_key(dataset_id)) == first
        resent = events_of(stack, dataset_id)
        assert [e["detail-type"] for e in resent] == ["Dataset Profiled"]


def test_a_redelivery_reclaims_a_dataset_whose_worker_died() -> None:
    with EmbeddedStack() as stack:
        pipe = Pipeline.on(stack)
        _, accepted = pipe.upload((EXAMPLES / "customers_semicolon.csv").read_bytes())
        dataset_id = accepted["dataset_id"]
        meta = pipe.s3_json(keys.meta_key(dataset_id))
        message = pipe.take_message(meta["route"])

        # Given a worker that claimed the dataset and died (meta left PROCESSING) ...
        repo = S3MetaRepository(stack.s3(), stack.settings.bucket)
        update_meta(repo, dataset_id, lambda m: m.start(datetime.now(UTC)))

        # ... a duplicate that arrives meanwhile (receive count 1) leaves it alone,
        assert pipe.run_worker(message, meta["route"]) == {"batchItemFailures": []}
        assert pipe.s3_json(keys.meta_key(dataset_id))["status"] == "PROCESSING"

        # and the redelivery after the visibility timeout takes over and finishes it.
        assert pipe.run_worker(sqs_message_with_count(message, 2), meta["route"]) == {"batchItemFailures": []}
        final = pipe.s3_json(keys.meta_key(dataset_id))
        assert (final["status"], final["attempts"]) == ("READY", 2)
