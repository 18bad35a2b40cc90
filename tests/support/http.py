"""A tiny HTTP client for the local API: every request SigV4-signed, as AWS_IAM routes require.

Signing goes through `csvprof.client.CsvProfClient` with the standard credential chain
(the test environment's fake key pair, which the local gateway accepts), so every test
that uses it also goes through the gateway's signature verification.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from csvprof.client import CsvProfClient


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
    client: CsvProfClient = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", CsvProfClient(self.base_url, timeout_s=30, retries=False))

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Answer:
        answer = self.client.request(method, path, body=body or b"", headers=headers)
        return Answer(answer.status, answer.headers, answer.body)

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
