"""Queue message contract: what the API sends to the blue or green work queue."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, cast

from csvprof.contracts.keys import DatasetId, parse_dataset_id, raw_key
from csvprof.contracts.meta import Route
from csvprof.errors import MalformedMessage

SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class DatasetMessage:
    """What the worker needs: the dataset (its source key follows from the id) and its route."""

    dataset_id: DatasetId
    route: Route
    enqueued_at: str
    schema_version: str = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def parse(cls, body: str) -> DatasetMessage:
        try:
            data: Any = json.loads(body)
            dataset_id = parse_dataset_id(data["dataset_id"])
            route = data["route"]
            if route not in ("blue", "green"):
                raise ValueError(f"route {route!r} is not blue or green")
            # Messages sent by an API from before source_key was dropped still carry it.
            if data.get("source_key", raw_key(dataset_id)) != raw_key(dataset_id):
                raise ValueError("source_key is not the dataset's raw key")
            if data.get("schema_version") != SCHEMA_VERSION:
                raise ValueError(f"schema_version {data.get('schema_version')!r} is not {SCHEMA_VERSION!r}")
            return cls(dataset_id=dataset_id, route=cast(Route, route), enqueued_at=str(data["enqueued_at"]))
        except Exception as exc:  # any shape error makes the message poison
            raise MalformedMessage(f"not a csvprof queue message: {exc}") from exc
