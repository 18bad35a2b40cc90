"""The typed contract modules read and write exactly the documents their schemas describe.

Every passing example of profile.json, meta.json and the queue message goes through its
module and comes back unchanged; the module's own properties agree with the schema.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta
from csvprof.contracts.profile import ColumnProfile, Profile
from csvprof.errors import MalformedMessage
from tests.support.contracts import CONTRACTS, EXAMPLES, assert_valid


def passing(name: str) -> list[Path]:
    return sorted((EXAMPLES / name).glob("*.pass.json"))


@pytest.mark.parametrize("example", passing("profile"), ids=lambda p: p.name)
def test_every_passing_profile_round_trips_through_the_typed_document(example: Path) -> None:
    body = json.loads(example.read_text())
    profile = Profile.from_dict(body)
    # A profile written before dialect.skipped_lines existed reads it as 0.
    body["dialect"].setdefault("skipped_lines", 0)
    assert profile.to_dict() == body
    assert list(profile.to_dict()) == list(body)  # the schema's key order, as the engine writes it


def test_the_typed_column_has_exactly_the_schema_column_properties() -> None:
    schema = json.loads((CONTRACTS / "profile.schema.json").read_text())
    column = schema["$defs"]["column"]
    assert [f.name for f in fields(ColumnProfile)] == list(column["properties"])
    assert set(column["required"]) == set(column["properties"])


@pytest.mark.parametrize("example", passing("meta"), ids=lambda p: p.name)
def test_every_passing_meta_round_trips(example: Path) -> None:
    body = json.loads(example.read_text())
    assert Meta.from_dict(body).to_dict() == body


@pytest.mark.parametrize("example", passing("queue-message"), ids=lambda p: p.name)
def test_every_passing_message_is_accepted_and_what_is_sent_is_valid(example: Path) -> None:
    message = DatasetMessage.parse(example.read_text())
    sent = json.loads(message.to_json())
    assert_valid("queue-message", sent)
    assert "source_key" not in sent  # what the worker uses, nothing more


@pytest.mark.parametrize(
    "example", sorted((EXAMPLES / "queue-message").glob("*.fail.json")), ids=lambda p: p.name
)
def test_every_failing_message_is_poison(example: Path) -> None:
    with pytest.raises(MalformedMessage):
        DatasetMessage.parse(example.read_text())
