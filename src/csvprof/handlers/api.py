"""API Lambda: HTTP API (payload 2.0) -> DatasetService. Routing and error mapping only."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from csvprof.adapters.clients import s3_client, sqs_client, ssm_client
from csvprof.adapters.s3 import S3ArtifactStore, S3MetaRepository
from csvprof.adapters.sqs import SqsWorkQueue
from csvprof.adapters.ssm import SsmGreenWeight
from csvprof.config import Settings
from csvprof.contracts.meta import Meta
from csvprof.contracts.timefmt import format_ts
from csvprof.domain.datasets import DatasetService
from csvprof.errors import ApiError, CsvProfError, InternalError, RouteNotFound
from csvprof.handlers.types import LambdaHandler, instrumented, lazy_handler
from csvprof.observability import ApiMetric, for_component

# The HTTP API's route keys: contracts/openapi.yaml's paths and infra/cloudformation/api.yaml's
# routes (tests compare all three); the local gateway serves exactly these.
ROUTES = (
    "POST /datasets",
    "GET /datasets",
    "POST /uploads",
    "POST /uploads/{dataset_id}/complete",
    "GET /datasets/{dataset_id}",
    "GET /datasets/{dataset_id}/profile",
)


def build_service(settings: Settings, session: boto3.Session | None = None) -> DatasetService:
    s3 = s3_client(settings, session)
    return DatasetService(
        metas=S3MetaRepository(s3, settings.bucket),
        artifacts=S3ArtifactStore(s3, settings.bucket),
        queue=SqsWorkQueue(
            sqs_client(settings, session),
            {"blue": settings.blue_queue_url, "green": settings.green_queue_url},
        ),
        now=lambda: datetime.now(UTC),
        green_weight=_green_weight(settings, session),
    )


def _green_weight(settings: Settings, session: boto3.Session | None) -> Callable[[], int]:
    if settings.routing_parameter:
        return SsmGreenWeight(ssm_client(settings, session), settings.routing_parameter)
    return lambda: settings.green_weight


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _accepted(meta: Meta) -> Response[str]:
    base = f"/datasets/{meta.dataset_id}"
    links = {"self": base, "profile": f"{base}/profile"}
    return _json(202, {"dataset_id": meta.dataset_id, "status": meta.status.value, "links": links})


def make_handler(settings: Settings, session: boto3.Session | None = None) -> LambdaHandler:
    svc = build_service(settings, session)
    obs = for_component("api")
    app = APIGatewayHttpResolver()

    def body_bytes() -> bytes:
        event = app.current_event
        raw = event.body or ""
        return base64.b64decode(raw) if event.is_base64_encoded else raw.encode()

    @app.post("/datasets")
    def create_dataset() -> Response[str]:
        body = body_bytes()
        meta = svc.accept_upload(body, app.current_event.headers.get("content-type"), _query("name"))
        obs.logger.append_keys(dataset_id=meta.dataset_id)
        obs.logger.info("dataset accepted", extra={"route": meta.route, "bytes": len(body)})
        obs.metric(ApiMetric.DATASETS_ACCEPTED, 1)
        obs.metric(ApiMetric.UPLOAD_BYTES, len(body))
        return _accepted(meta)

    @app.post("/uploads")
    def start_upload() -> Response[str]:
        dataset_id, upload = svc.start_upload(_query("name"))
        obs.logger.append_keys(dataset_id=dataset_id)
        obs.logger.info("presigned upload issued")
        return _json(
            201,
            {
                "dataset_id": dataset_id,
                "upload": {
                    "url": upload.url,
                    "method": "PUT",
                    "headers": upload.headers,
                    "expires_at": format_ts(upload.expires_at),
                },
                "links": {"complete": f"/uploads/{dataset_id}/complete"},
            },
        )

    @app.post("/uploads/<dataset_id>/complete")
    def complete_upload(dataset_id: str) -> Response[str]:
        obs.logger.append_keys(dataset_id=dataset_id)
        meta = svc.complete_upload(dataset_id)
        obs.logger.info("presigned upload registered", extra={"route": meta.route})
        obs.metric(ApiMetric.DATASETS_ACCEPTED, 1)
        obs.metric(ApiMetric.UPLOAD_BYTES, meta.source_bytes)
        return _accepted(meta)

    @app.get("/datasets")
    def list_datasets() -> Response[str]:
        metas, token = svc.list_datasets(_query("limit"), _query("next_token"))
        return _json(200, {"items": [m.to_dict() for m in metas], "next_token": token})

    @app.get("/datasets/<dataset_id>")
    def get_dataset(dataset_id: str) -> Response[str]:
        obs.logger.append_keys(dataset_id=dataset_id)
        return _json(200, svc.get_meta(dataset_id).to_dict())

    @app.get("/datasets/<dataset_id>/profile")
    def get_profile(dataset_id: str) -> Response[str]:
        obs.logger.append_keys(dataset_id=dataset_id)
        body = svc.get_profile(dataset_id).decode()
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)

    def _query(name: str) -> str | None:
        return app.current_event.get_query_string_value(name)

    def client_error(exc: CsvProfError) -> Response[str]:
        obs.logger.info("request rejected", extra={"code": exc.code})
        obs.metric(ApiMetric.REQUESTS_REJECTED, 1)
        return _json(exc.http_status or 400, exc.as_dict())

    def registry_error(exc: CsvProfError) -> Response[str]:
        # Worker codes the API can answer (FILE_TOO_LARGE on a completed upload).
        if exc.http_status and exc.http_status < 500:
            return client_error(exc)
        return server_error(exc)

    def server_error(exc: Exception) -> Response[str]:
        # A bug or an AWS outage, never a client mistake: 500 with the registry code, trace logged.
        obs.logger.exception("unhandled error")
        return _json(500, InternalError("internal error; see the logs for the request id").as_dict())

    def not_found(exc: Exception) -> Response[str]:
        http = app.current_event.request_context.http
        return client_error(RouteNotFound(f"no route {http.method} {http.path}"))

    app.exception_handler(ApiError)(client_error)
    app.exception_handler(CsvProfError)(registry_error)
    app.exception_handler(Exception)(server_error)
    app.not_found(not_found)

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return instrumented(obs, handler)


# The Lambda entry point; the configuration is read on the first invocation (cold start).
handler = lazy_handler(lambda: make_handler(Settings.from_env()))
