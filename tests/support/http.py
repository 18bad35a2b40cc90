"""A tiny HTTP client for the local API (stdlib only, like a user's script would be)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class HttpApi:
    base_url: str

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        url = self.base_url + path  # always the local gateway's http://127.0.0.1 URL
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback URL
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as err:
            return Answer(err.code, dict(err.headers), err.read())

    def upload(self, body: bytes, name: str | None = None, content_type: str = "text/csv") -> Answer:
        path = "/datasets" + (f"?name={name}" if name else "")
        return self.call("POST", path, body, {"Content-Type": content_type})

    def wait_terminal(self, dataset_id: str, timeout_s: float = 60) -> dict[str, Any]:
        """Poll the meta until READY or FAILED and return it."""

        def terminal() -> dict[str, Any] | None:
            meta: dict[str, Any] = self.call("GET", f"/datasets/{dataset_id}").json()
            return meta if meta["status"] in ("READY", "FAILED") else None

        found: dict[str, Any] = wait_for(
            terminal, timeout_s, 0.05, what=f"dataset {dataset_id} READY or FAILED"
        )
        return found


def wait_for(predicate: Any, timeout_s: float, interval_s: float = 0.1, what: str = "condition") -> Any:
    """Poll `predicate()` until it returns something truthy, or fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout_s} s")
        time.sleep(interval_s)
