"""The API use cases against in-memory ports: validation happens before any storage call."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Status
from csvprof.domain.datasets import DatasetService
from csvprof.errors import (
    DatasetNotFound,
    EmptyBody,
    InvalidQueryParameter,
    PayloadTooLarge,
    ProfileNotReady,
    UnsupportedMediaType,
    UploadNotFound,
)
from csvprof.limits import MAX_DIRECT_UPLOAD_BYTES
from tests.support.contracts import assert_valid
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingQueue

FIXED_ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")


def service(weight: int = 0) -> tuple[DatasetService, InMemoryMetas, InMemoryArtifacts, RecordingQueue]:
    metas, artifacts, queue = InMemoryMetas(), InMemoryArtifacts(), RecordingQueue()
    svc = DatasetService(
        metas=metas,
        artifacts=artifacts,
        queue=queue,
        now=lambda: datetime(2026, 11, 25, tzinfo=UTC),
        green_weight=lambda: weight,
        new_id=lambda: FIXED_ID,
    )
    return svc, metas, artifacts, queue


def test_accepting_an_upload_stores_registers_and_enqueues_once() -> None:
    svc, metas, artifacts, queue = service()
    meta = svc.accept_upload(b"a,b\n1,2\n", "text/csv; charset=utf-8", "x.csv")
    assert (meta.status, meta.name, meta.source_bytes) == (Status.UPLOADED, "x.csv", 8)
    assert artifacts.sources[FIXED_ID] == (b"a,b\n1,2\n", "x.csv")
    assert_valid("meta", metas.stored[FIXED_ID][0].to_dict())
    ((route, message),) = queue.sent
    assert route == meta.route == message.route
    assert message.dataset_id == FIXED_ID


@pytest.mark.parametrize(
    ("body", "content_type", "name", "error"),
    [
        (b"a\n1\n", "application/json", None, UnsupportedMediaType),
        (b"a\n1\n", None, None, UnsupportedMediaType),
        (b"", "text/csv", None, EmptyBody),
        (b"x" * (MAX_DIRECT_UPLOAD_BYTES + 1), "text/csv", None, PayloadTooLarge),
        (b"a\n1\n", "text/csv", "bad\nname", InvalidQueryParameter),
        (b"a\n1\n", "text/csv", "n" * 256, InvalidQueryParameter),
        (b"a\n1\n", "text/csv", "\U0001f600" * 256, InvalidQueryParameter),  # counted in characters
        (b"a\n1\n", "text/csv", "del\x7f", InvalidQueryParameter),
        (b"a\n1\n", "text/csv", "c1\x85", InvalidQueryParameter),
    ],
)
def test_rejected_uploads_touch_nothing(
    body: bytes, content_type: str | None, name: str | None, error: type
) -> None:
    svc, metas, artifacts, queue = service()
    with pytest.raises(error):
        svc.accept_upload(body, content_type, name)
    assert (metas.calls, artifacts.calls, queue.sent) == ([], [], [])


@pytest.mark.parametrize("bad_token", ["", "nope", FIXED_ID.upper(), "../meta/x", FIXED_ID + "/x"])
def test_a_page_token_that_is_not_an_id_never_reaches_storage(bad_token: str) -> None:
    svc, metas, artifacts, _ = service()
    with pytest.raises(InvalidQueryParameter, match="next_token"):
        svc.list_datasets("10", bad_token)
    assert (metas.calls, artifacts.calls) == ([], [])


def test_reads_of_unknown_or_unfinished_datasets() -> None:
    svc, *_ = service()
    with pytest.raises(DatasetNotFound):
        svc.get_meta(FIXED_ID)
    svc.accept_upload(b"a\n1\n", "text/csv", None)
    with pytest.raises(ProfileNotReady):
        svc.get_profile(FIXED_ID)


def test_completing_an_upload_is_idempotent_and_needs_the_object() -> None:
    svc, metas, artifacts, queue = service()
    with pytest.raises(UploadNotFound):
        svc.complete_upload(FIXED_ID)
    artifacts.put_source(FIXED_ID, b"a,b\n1,2\n", "big.csv")
    first = svc.complete_upload(FIXED_ID)
    again = svc.complete_upload(FIXED_ID)
    assert first == again
    assert first.name == "big.csv"
    # Still UPLOADED: the repeat re-sends, in case the first call died before its send.
    assert [m.dataset_id for _, m in queue.sent] == [FIXED_ID, FIXED_ID]
    # Once a worker has it, a repeat sends nothing more.
    meta, etag = metas.stored[FIXED_ID]
    metas.replace(meta.start(datetime(2026, 11, 25, tzinfo=UTC)), etag)
    svc.complete_upload(FIXED_ID)
    assert len(queue.sent) == 2


@pytest.mark.parametrize("raw", ["0", "101", "-1", "ten", "1.5", "²", "٣", "0010"])
def test_list_limit_is_validated(raw: str) -> None:
    svc, *_ = service()
    with pytest.raises(InvalidQueryParameter):
        svc.list_datasets(raw, None)
