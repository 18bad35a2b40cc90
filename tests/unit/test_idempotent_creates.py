"""Idempotency-Key on POST /datasets and POST /uploads, against in-memory ports.

The same key and request give the same dataset, whichever step the first attempt died at;
the same key with another request is refused before anything is written.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from csvprof.contracts.idempotency import IdempotencyKey, IdempotencyRecord, key_hash, request_sha256
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Meta, Status
from csvprof.domain.datasets import CREATE_DATASET, DatasetService
from csvprof.errors import (
    IdempotencyKeyReused,
    InvalidHeader,
    UnsupportedMediaType,
    UploadAlreadyCompleted,
)
from tests.support.contracts import assert_valid
from tests.support.fakes import InMemoryArtifacts, InMemoryIdempotency, InMemoryMetas, RecordingQueue

NOW = datetime(2026, 11, 25, tzinfo=UTC)
BODY = b"a,b\n1,2\n"
KEY = "3b8f2c4e-order-42"
TWIN_ID = DatasetId("ffffffff-0000-4000-8000-000000000000")


@dataclass
class World:
    svc: DatasetService
    metas: InMemoryMetas
    artifacts: InMemoryArtifacts
    queue: RecordingQueue
    records: InMemoryIdempotency


def world(
    metas: Any = None,
    artifacts: Any = None,
    queue: Any = None,
    records: Any = None,
    new_id: Callable[[], DatasetId] | None = None,
) -> World:
    """A service minting a new id on every call, on fresh fakes (or the ones given)."""
    counter = itertools.count(1)
    metas, artifacts = metas or InMemoryMetas(), artifacts or InMemoryArtifacts()
    queue, records = queue or RecordingQueue(), records or InMemoryIdempotency()
    svc = DatasetService(
        metas=metas,
        artifacts=artifacts,
        queue=queue,
        now=lambda: NOW,
        green_weight=lambda: 0,
        new_id=new_id or (lambda: DatasetId(f"00000000-0000-4000-8000-{next(counter):012d}")),
        idempotency=records,
    )
    return World(svc, metas, artifacts, queue, records)


def test_the_same_key_and_body_give_the_same_dataset_written_once() -> None:
    w = world()
    first = w.svc.accept_upload(BODY, "text/csv", "x.csv", KEY)
    again = w.svc.accept_upload(BODY, "text/csv", "x.csv", KEY)
    assert again == first
    assert list(w.metas.stored) == [first.dataset_id]
    assert [c for c in w.artifacts.calls if c.startswith("put_source")] == [f"put_source {first.dataset_id}"]
    assert [c for c in w.metas.calls if c.startswith("create")] == [f"create {first.dataset_id}"]
    # The repeat re-sends while UPLOADED (the first send may have failed); the worker dedupes.
    assert {m.dataset_id for _, m in w.queue.sent} == {first.dataset_id}
    (record,) = w.records.records.values()
    assert_valid("idempotency-record", record.to_dict())


def test_without_a_key_every_request_is_a_new_dataset() -> None:
    w = world()
    ids = {w.svc.accept_upload(BODY, "text/csv", "x.csv").dataset_id for _ in range(3)}
    assert len(ids) == len(w.metas.stored) == 3
    assert w.records.calls == []


def test_a_key_is_scoped_to_its_route() -> None:
    w = world()
    created = w.svc.accept_upload(BODY, "text/csv", None, KEY)
    started, _ = w.svc.start_upload(None, KEY)
    assert started != created.dataset_id


class FailingOnce:
    """Wraps a fake so that its first call of `method` raises, like a timeout or an outage."""

    def __init__(self, inner: object, method: str) -> None:
        self.inner, self.method, self.failed = inner, method, False

    def __getattr__(self, name: str) -> object:
        target = getattr(self.inner, name)
        if name != self.method or self.failed:
            return target

        def fail(*args: object) -> None:
            self.failed = True
            raise RuntimeError(f"{name} failed")

        return fail


@pytest.mark.parametrize(
    ("port", "method"),
    [
        ("artifacts", "put_source"),  # died after the claim, before the source
        ("metas", "create"),  # died after the source, before the meta
        ("queue", "send"),  # SQS failed after the meta: the client saw a 500
    ],
)
def test_a_retry_finishes_what_a_first_attempt_left_half_done(port: str, method: str) -> None:
    fakes: dict[str, Any] = {
        "metas": InMemoryMetas(),
        "artifacts": InMemoryArtifacts(),
        "queue": RecordingQueue(),
    }
    w = world(**{**fakes, port: FailingOnce(fakes[port], method)})
    with pytest.raises(RuntimeError):
        w.svc.accept_upload(BODY, "text/csv", "x.csv", KEY)
    meta = w.svc.accept_upload(BODY, "text/csv", "x.csv", KEY)
    (record,) = w.records.records.values()
    assert meta.dataset_id == record.dataset_id
    assert (meta.status, meta.name, meta.source_bytes) == (Status.UPLOADED, "x.csv", len(BODY))
    assert list(fakes["metas"].stored) == [meta.dataset_id]
    assert fakes["artifacts"].sources == {meta.dataset_id: (BODY, "x.csv")}
    assert [m.dataset_id for _, m in fakes["queue"].sent] == [meta.dataset_id]


@pytest.mark.parametrize(
    ("body", "content_type", "name"),
    [
        (b"a,b\n9,9\n", "text/csv", "x.csv"),  # another body
        (BODY, "text/plain", "x.csv"),  # another media type
        (BODY, "text/csv", "y.csv"),  # another name
        (BODY, "text/csv", None),
    ],
)
def test_the_same_key_with_another_request_is_refused_and_writes_nothing(
    body: bytes, content_type: str, name: str | None
) -> None:
    w = world()
    first = w.svc.accept_upload(BODY, "text/csv", "x.csv", KEY)
    calls = (list(w.metas.calls), list(w.artifacts.calls), list(w.queue.sent))
    records = dict(w.records.records)
    with pytest.raises(IdempotencyKeyReused) as refused:
        w.svc.accept_upload(body, content_type, name, KEY)
    assert refused.value.http_status == 422
    assert (w.metas.calls, w.artifacts.calls, w.queue.sent) == calls
    assert w.records.records == records
    assert list(w.metas.stored) == [first.dataset_id]


def test_charset_parameters_and_case_do_not_make_another_request() -> None:
    w = world()
    first = w.svc.accept_upload(BODY, "text/csv", None, KEY)
    assert w.svc.accept_upload(BODY, "Text/CSV; charset=utf-8", None, KEY) == first


@pytest.mark.parametrize("bad", ["", "k" * 256, "tab\there", "naïve", "line\nbreak", "\x7f"])
def test_a_malformed_key_is_refused_before_any_storage_call(bad: str) -> None:
    w = world()
    with pytest.raises(InvalidHeader):
        w.svc.accept_upload(BODY, "text/csv", None, bad)
    with pytest.raises(InvalidHeader):
        w.svc.start_upload(None, bad)
    assert (w.metas.calls, w.artifacts.calls, w.queue.sent, w.records.calls) == ([], [], [], [])


@pytest.mark.parametrize("good", ["k", "k" * 255, '"8e03978e-40d5-43e8-bc93-6894a57f9324"', "a b ~!"])
def test_printable_ascii_keys_up_to_255_are_accepted(good: str) -> None:
    w = world()
    assert w.svc.accept_upload(BODY, "text/csv", None, good) == w.svc.accept_upload(
        BODY, "text/csv", None, good
    )


def test_other_validation_comes_first_and_claims_nothing() -> None:
    w = world()
    with pytest.raises(UnsupportedMediaType):
        w.svc.accept_upload(BODY, "application/json", None, KEY)
    assert w.records.calls == []
    # ...so the key is still free for the corrected request.
    assert w.svc.accept_upload(BODY, "text/csv", None, KEY).status is Status.UPLOADED


class RaceOnSource(InMemoryArtifacts):
    """Runs a twin request with the same key while the first is about to write its source."""

    twin: DatasetService | None = None
    twin_answer: Meta | None = None

    def put_source(self, dataset_id: DatasetId, body: bytes, name: str | None) -> None:
        if self.twin is not None:
            twin, self.twin = self.twin, None
            self.twin_answer = twin.accept_upload(body, "text/csv", name, KEY)
        super().put_source(dataset_id, body, name)


def test_concurrent_first_calls_with_one_key_make_one_dataset() -> None:
    artifacts = RaceOnSource()
    first = world(artifacts=artifacts)
    # The twin shares the stores but mints other ids: it must lose the claim and take the first's id.
    twin = world(first.metas, artifacts, first.queue, first.records, new_id=lambda: TWIN_ID)
    artifacts.twin = twin.svc
    meta = first.svc.accept_upload(BODY, "text/csv", "x.csv", KEY)
    assert artifacts.twin_answer == meta
    assert meta.dataset_id != TWIN_ID
    assert list(first.metas.stored) == [meta.dataset_id]
    assert list(artifacts.sources) == [meta.dataset_id]
    assert {m.dataset_id for _, m in first.queue.sent} == {meta.dataset_id}  # one dataset, maybe two sends


def test_the_loser_of_the_claim_reads_the_winners_record() -> None:
    w = world()
    fingerprint = request_sha256(CREATE_DATASET, {"media_type": "text/csv", "name": None}, BODY)
    winner = IdempotencyRecord(DatasetId("aaaaaaaa-0000-4000-8000-000000000000"), fingerprint, NOW)
    w.records.records[key_hash(CREATE_DATASET, IdempotencyKey(KEY))] = winner
    assert w.svc.accept_upload(BODY, "text/csv", None, KEY).dataset_id == winner.dataset_id


# --- POST /uploads --------------------------------------------------------------------------


def test_a_repeated_start_gets_the_same_id_and_a_fresh_url_until_completed() -> None:
    w = world()
    first_id, _ = w.svc.start_upload("big.csv", KEY)
    again_id, _ = w.svc.start_upload("big.csv", KEY)
    assert again_id == first_id
    assert w.artifacts.calls == [f"presign {first_id}", f"presign {first_id}"]
    with pytest.raises(IdempotencyKeyReused):
        w.svc.start_upload("other.csv", KEY)
    # Once completed, no URL that could replace the registered source.
    w.artifacts.sources[first_id] = (BODY, "big.csv")
    w.svc.complete_upload(first_id)
    with pytest.raises(UploadAlreadyCompleted, match=first_id):
        w.svc.start_upload("big.csv", KEY)


def test_starts_without_a_key_mint_a_new_id_each_time() -> None:
    w = world()
    assert w.svc.start_upload(None)[0] != w.svc.start_upload(None)[0]


def test_a_service_without_a_store_refuses_keys_rather_than_ignore_them() -> None:
    svc = DatasetService(
        metas=InMemoryMetas(),
        artifacts=InMemoryArtifacts(),
        queue=RecordingQueue(),
        now=lambda: NOW,
        green_weight=lambda: 0,
    )
    with pytest.raises(RuntimeError):
        svc.accept_upload(BODY, "text/csv", None, KEY)


def test_records_round_trip_and_match_their_schema() -> None:
    record = IdempotencyRecord(DatasetId("aaaaaaaa-0000-4000-8000-000000000000"), "0" * 64, NOW)
    assert_valid("idempotency-record", record.to_dict())
    assert IdempotencyRecord.from_dict(record.to_dict()) == record
