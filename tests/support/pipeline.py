"""Drive the real handlers step by step against an embedded stack, without pollers.

Each step reads back what the code really emitted (S3 objects, SQS bodies, EventBridge
details, HTTP answers) so contract tests can validate it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from csvprof.contracts import keys
from csvprof.handlers.types import LambdaHandler
from csvprof.limits import WORKER_TIMEOUT_S
from csvprof.local.context import new_context
from csvprof.local.poller import build_event
from csvprof.local.stack import EmbeddedStack
from tests.support.contracts import assert_valid
from tests.support.events import http_event


@dataclass
class Pipeline:
    stack: EmbeddedStack
    api: LambdaHandler
    worker: LambdaHandler

    @classmethod
    def on(cls, stack: EmbeddedStack) -> Pipeline:
        """Fresh API and worker handlers for the stack (fresh Logger/Metrics instances too)."""
        from csvprof.handlers import api, worker

        return cls(
            stack,
            api.make_handler(stack.settings, stack.session),
            worker.make_handler(stack.settings, stack.session),
        )

    def call(self, method: str, path: str, body: bytes = b"", **kw: Any) -> tuple[int, Any]:
        context = new_context("csvprof-api", memory_mb=256, timeout_s=10, region=self.stack.region)
        answer = self.api(http_event(method, path, body, **kw), context)
        return answer["statusCode"], json.loads(answer["body"])

    def upload(self, body: bytes, name: str = "data.csv") -> tuple[int, Any]:
        return self.call(
            "POST", "/datasets", body, headers={"content-type": "text/csv"}, query={"name": name}
        )

    def s3_json(self, key: str) -> Any:
        return json.loads(
            self.stack.s3().get_object(Bucket=self.stack.settings.bucket, Key=key)["Body"].read()
        )

    def take_message(self, route: str) -> dict[str, Any]:
        url = self.stack.work_queue_urls[route]  # type: ignore[index]
        answer = self.stack.sqs().receive_message(
            QueueUrl=url,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=2,
        )
        (message,) = answer["Messages"]
        return dict(message)

    def run_worker(self, message: dict[str, Any], route: str) -> dict[str, Any]:
        event = build_event(
            [message],  # type: ignore[list-item]
            queue_arn=self.stack.work_queue_arn(route),  # type: ignore[arg-type]
            region=self.stack.region,
        )
        context = new_context(
            "csvprof-worker", memory_mb=2048, timeout_s=WORKER_TIMEOUT_S, region=self.stack.region
        )
        return self.worker(event, context)


def drive(pipeline: Pipeline, body: bytes) -> dict[str, Any]:
    """Upload, check everything emitted on the way, run the worker once; return what was seen."""
    status, accepted = pipeline.upload(body)
    assert status == 202
    assert_valid("api-dataset-accepted", accepted)
    dataset_id = accepted["dataset_id"]

    meta = pipeline.s3_json(keys.meta_key(dataset_id))
    assert_valid("meta", meta)
    assert meta["status"] == "UPLOADED"

    message = pipeline.take_message(meta["route"])
    sent = json.loads(message["Body"])
    assert_valid("queue-message", sent)
    assert (sent["dataset_id"], sent["route"]) == (dataset_id, meta["route"])

    assert pipeline.run_worker(message, meta["route"]) == {"batchItemFailures": []}
    final = pipeline.s3_json(keys.meta_key(dataset_id))
    assert_valid("meta", final)
    events = [e for e in pipeline.stack.receive_events(wait_s=2) if e["detail"]["dataset_id"] == dataset_id]
    return {"dataset_id": dataset_id, "meta": final, "events": events}
