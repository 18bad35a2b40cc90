"""Realistic AWS events for invoking handlers directly, built from tests/events/*.json."""

from __future__ import annotations

import base64
import copy
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from csvprof.handlers.api import ROUTES
from csvprof.local.gateway import Route, match_route

EVENTS = Path(__file__).resolve().parents[1] / "events"
_ROUTES = [Route.parse(key) for key in ROUTES]


@cache
def _template(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of tests/events/<name>.json."""
    return copy.deepcopy(_template(name))


def http_event(
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload-2.0 event for one request, from the recorded POST template."""
    event = load_event("apigw_v2_post_dataset")
    # The deployed API's route key and path parameters; `$default` for paths it would not route
    # (only a catch-all integration would invoke the function with those).
    matched = match_route(_ROUTES, method, path)
    route_key, params = matched if matched else ("$default", {})
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    if params:
        event["pathParameters"] = params
    else:
        event.pop("pathParameters", None)
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["rawQueryString"] = urlencode(query or {})
    if query:
        event["queryStringParameters"] = dict(query)
    else:
        event.pop("queryStringParameters", None)
    event["headers"] = {
        **{k: v for k, v in event["headers"].items() if k != "content-type"},
        **(headers or {}),
    }
    event["headers"]["content-length"] = str(len(body))
    if body:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    else:
        event.pop("body", None)
        event["isBase64Encoded"] = False
    return event
