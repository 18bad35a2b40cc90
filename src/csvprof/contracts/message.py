"""Queue message contract: what the API sends to the blue or green work queue."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, cast

from csvprof.contracts import keys
from csvprof.contracts.meta import Route

SCHEMA_VERSION = "1"


class MalformedMessage(Exception):
    """A body that is not a valid queue message: poison, left for the DLQ."""


@dataclass(frozen=True, slots=True)
class DatasetMessage:
    dataset_id: str
    route: Route
    source_key: str
    enqueued_at: str
    schema_version: str = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def parse(cls, body: str) -> DatasetMessage:
        try:
            data: Any = json.loads(body)
            dataset_id = keys.validate_dataset_id(data["dataset_id"])
            route = data["route"]
            if route not in ("blue", "green") or data["source_key"] != keys.raw_key(dataset_id):
                raise ValueError("route or source_key does not match the contract")
            if data.get("schema_version") != SCHEMA_VERSION:
                raise ValueError(f"schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION!r}")
            return cls(
                dataset_id=dataset_id,
                route=cast(Route, route),
                source_key=data["source_key"],
                enqueued_at=str(data["enqueued_at"]),
            )
        except Exception as exc:  # any shape error makes the message poison
            raise MalformedMessage(f"not a csvprof queue message: {exc}") from exc
