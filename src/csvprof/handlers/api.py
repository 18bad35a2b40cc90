"""API Lambda: HTTP API (payload 2.0) -> DatasetService. Wiring, one route a domain call."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from csvprof.adapters.clients import s3_client, sqs_client, ssm_client
from csvprof.adapters.s3 import S3ArtifactStore, S3IdempotencyStore, S3MetaRepository
from csvprof.adapters.sqs import SqsWorkQueue
from csvprof.adapters.ssm import SsmGreenWeight
from csvprof.config import Settings
from csvprof.contracts import api as bodies
from csvprof.contracts.keys import DatasetId, parse_dataset_id
from csvprof.contracts.meta import Meta
from csvprof.domain.datasets import DatasetService, check_query_names
from csvprof.errors import CsvProfError, InternalError, RouteNotFound
from csvprof.handlers.types import LambdaHandler, instrumented, lazy_handler
from csvprof.observability import ApiMetric, Observability, for_component

# The HTTP API's route keys and the HttpRoutes method serving each: contracts/openapi.yaml's
# paths and infra/cloudformation/api.yaml's routes (tests compare all three); the local
# gateway serves exactly these.
ROUTES = {
    "POST /datasets": "create_dataset",
    "GET /datasets": "list_datasets",
    "POST /uploads": "start_upload",
    "POST /uploads/{dataset_id}/complete": "complete_upload",
    "GET /datasets/{dataset_id}": "get_dataset",
    "GET /datasets/{dataset_id}/profile": "get_profile",
    "GET /datasets/{dataset_id}/report": "get_report",
}
# The query parameters each route declares in contracts/openapi.yaml; any other is 400, so a
# misspelt `?nmae=` is refused rather than silently ignored.
QUERY_PARAMETERS: dict[str, frozenset[str]] = {
    "POST /datasets": frozenset({"name"}),
    "GET /datasets": frozenset({"limit", "next_token"}),
    "POST /uploads": frozenset({"name"}),
}


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
        idempotency=S3IdempotencyStore(s3, settings.bucket),
    )


def _green_weight(settings: Settings, session: boto3.Session | None) -> Callable[[], int]:
    if settings.routing_parameter:
        return SsmGreenWeight(
            ssm_client(settings, session), settings.routing_parameter, settings.routing_cache_s
        )
    return lambda: settings.green_weight


def _json(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


class HttpRoutes:
    """The methods ROUTES names: read the request, call the service once, answer."""

    def __init__(self, app: APIGatewayHttpResolver, svc: DatasetService, obs: Observability) -> None:
        self.app, self.svc, self.obs = app, svc, obs

    def create_dataset(self) -> Response[str]:
        event = self.app.current_event
        body = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
        return self._accepted(
            self.svc.accept_upload(body, event.headers.get("content-type"), self._q("name"), self._key())
        )

    def start_upload(self) -> Response[str]:
        dataset_id, upload = self.svc.start_upload(self._q("name"), self._key())
        self.obs.logger.append_keys(dataset_id=dataset_id)
        self.obs.logger.info("presigned upload issued")
        return _json(201, bodies.upload_started(dataset_id, upload))

    def complete_upload(self, dataset_id: str) -> Response[str]:
        return self._accepted(self.svc.complete_upload(self._id(dataset_id)))

    def list_datasets(self) -> Response[str]:
        return _json(
            200, bodies.dataset_list(*self.svc.list_datasets(self._q("limit"), self._q("next_token")))
        )

    def get_dataset(self, dataset_id: str) -> Response[str]:
        return _json(200, self.svc.get_meta(self._id(dataset_id)).to_dict())

    def get_profile(self, dataset_id: str) -> Response[str]:
        body = self.svc.get_profile(self._id(dataset_id)).decode()
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)

    def checked(self, route_key: str) -> Callable[..., Response[str]]:
        """The route's method, called once its query names only what the route declares."""
        method: Callable[..., Response[str]] = getattr(self, ROUTES[route_key])
        allowed = QUERY_PARAMETERS.get(route_key, frozenset())

        def run(**path: str) -> Response[str]:
            check_query_names(self.app.current_event.query_string_parameters or {}, allowed)
            return method(**path)

        return run

    def get_report(self, dataset_id: str) -> Response[str]:
        return _json(200, bodies.report_link(self.svc.report_link(self._id(dataset_id))))

    def _id(self, raw: str) -> DatasetId:
        """The path's dataset id, checked here once; every log line of the request carries it."""
        dataset_id = parse_dataset_id(raw)
        self.obs.logger.append_keys(dataset_id=dataset_id)
        return dataset_id

    def _q(self, name: str) -> str | None:
        return self.app.current_event.get_query_string_value(name)

    def _key(self) -> str | None:
        """The Idempotency-Key header, unchecked (the service checks it); payload 2.0 lowercases names."""
        return self.app.current_event.headers.get("idempotency-key")

    def _accepted(self, meta: Meta) -> Response[str]:
        self.obs.logger.append_keys(dataset_id=meta.dataset_id)
        self.obs.logger.info("dataset accepted", extra={"route": meta.route, "bytes": meta.source_bytes})
        self.obs.metric(ApiMetric.DATASETS_ACCEPTED, 1)
        self.obs.metric(ApiMetric.UPLOAD_BYTES, meta.source_bytes)
        return _json(202, bodies.accepted(meta))

    def not_found(self, exc: Exception) -> Response[str]:
        http = self.app.current_event.request_context.http
        return self.error(RouteNotFound(f"no route {http.method} {http.path}"))

    def error(self, exc: Exception) -> Response[str]:
        """The one error table: a registry code with a 4xx status (errors.py) is the client's
        mistake; anything else is a bug or an outage: 500 INTERNAL_ERROR, trace logged."""
        if isinstance(exc, CsvProfError) and exc.http_status and exc.http_status < 500:
            self.obs.logger.info("request rejected", extra={"code": exc.code})
            self.obs.metric(ApiMetric.REQUESTS_REJECTED, 1)
            return _json(exc.http_status, exc.as_dict())
        self.obs.logger.exception("unhandled error")
        return _json(500, InternalError("internal error; see the logs for the request id").as_dict())


def make_handler(
    settings: Settings, session: boto3.Session | None = None, service: DatasetService | None = None
) -> LambdaHandler:
    """The API function; `service` replaces the AWS-backed use cases (tests pass in-memory ports)."""
    obs = for_component("api")
    app = APIGatewayHttpResolver()
    routes = HttpRoutes(app, service or build_service(settings, session), obs)
    for key in ROUTES:
        verb, path = key.split(" ", 1)
        app.route(path.replace("{", "<").replace("}", ">"), verb)(routes.checked(key))
    app.exception_handler(Exception)(routes.error)
    app.not_found(routes.not_found)

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started = time.monotonic()
        response = app.resolve(event, context)
        obs.answered(context, int(response.get("statusCode", 500)), (time.monotonic() - started) * 1000)
        return response

    return instrumented(obs, handler)


# The Lambda entry point; the configuration is read on the first invocation (cold start).
handler = lazy_handler(lambda: make_handler(Settings.from_env()))
