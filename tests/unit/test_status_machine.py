from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csvprof.contracts.meta import ALLOWED, Meta, Status
from csvprof.errors import InvalidTransition
from tests.support.contracts import assert_valid

ID = "3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def uploaded() -> Meta:
    return Meta.new(ID, name="a.csv", route="blue", source_bytes=10, now=T0)


def test_happy_path_sets_timestamps_and_stays_valid() -> None:
    meta = uploaded()
    assert_valid("meta", meta.to_dict())
    processing = meta.start(at(1))
    assert (processing.status, processing.attempts, processing.started_at) == (
        Status.PROCESSING,
        1,
        "2026-11-25T10:00:01.000Z",
    )
    assert processing.completed_at is None
    ready = processing.ready(at(2))
    assert ready.completed_at == "2026-11-25T10:00:02.000Z"
    assert ready.profile_key == f"profiles/{ID}/profile.json"
    for m in (processing, ready):
        assert_valid("meta", m.to_dict())


def test_failure_records_code_message_and_completion() -> None:
    failed = uploaded().start(at(1)).failed("CSV_PARSE_ERROR", "bad quote", at(2))
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.completed_at) == (
        Status.FAILED,
        "CSV_PARSE_ERROR",
        "2026-11-25T10:00:02.000Z",
    )
    assert_valid("meta", failed.to_dict())


def test_only_the_documented_transitions_exist() -> None:
    assert {s: set(t) for s, t in ALLOWED.items()} == {
        Status.UPLOADED: {Status.PROCESSING},
        Status.PROCESSING: {Status.READY, Status.FAILED},
        Status.READY: set(),
        Status.FAILED: set(),
    }


@pytest.mark.parametrize(
    "move",
    [
        lambda m: m.ready(at(1)),  # UPLOADED -> READY skips PROCESSING
        lambda m: m.failed("EMPTY_FILE", "x", at(1)),  # UPLOADED -> FAILED
        lambda m: m.start(at(1)).start(at(2)),  # PROCESSING -> PROCESSING
        lambda m: m.start(at(1)).ready(at(2)).failed("X", "y", at(3)),  # READY is terminal
        lambda m: m.start(at(1)).failed("X", "y", at(2)).ready(at(3)),  # FAILED is terminal
        lambda m: m.start(at(1)).ready(at(2)).start(at(3)),  # no way back
        lambda m: m.reclaim(at(1)),  # only PROCESSING can be re-claimed
    ],
)
def test_forbidden_transitions_raise(move) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidTransition):
        move(uploaded())


def test_reclaim_counts_an_attempt_without_changing_status() -> None:
    again = uploaded().start(at(1)).reclaim(at(5))
    assert (again.status, again.attempts, again.started_at) == (
        Status.PROCESSING,
        2,
        "2026-11-25T10:00:01.000Z",
    )


def test_wire_round_trip() -> None:
    meta = uploaded().start(at(1)).failed("SOURCE_MISSING", "gone", at(2))
    assert Meta.from_dict(meta.to_dict()) == meta


def test_each_claim_records_its_route_and_worker_version() -> None:
    first = uploaded().start(at(1), route="blue", version="7")
    again = first.reclaim(at(40), route="green", version="8")
    assert [(c.route, c.version, c.claimed_at) for c in again.claims] == [
        ("blue", "7", "2026-11-25T10:00:01.000Z"),
        ("green", "8", "2026-11-25T10:00:40.000Z"),
    ]
    assert again.attempts == len(again.claims) == 2
    assert_valid("meta", again.to_dict())
    assert Meta.from_dict(again.to_dict()) == again


def test_a_parked_dataset_stays_processing_until_a_reclaim_clears_it() -> None:
    parked = uploaded().start(at(1), route="green", version="8").park(at(2))
    assert (parked.status, parked.dead_lettered_at) == (Status.PROCESSING, "2026-11-25T10:00:02.000Z")
    assert_valid("meta", parked.to_dict())
    redriven = parked.reclaim(at(3), route="blue", version="9")
    assert redriven.dead_lettered_at is None
    assert_valid("meta", redriven.ready(at(4)).to_dict())
    with pytest.raises(InvalidTransition):
        uploaded().park(at(1))


def test_a_meta_written_before_claims_existed_reads_as_no_claims() -> None:
    body = uploaded().start(at(1)).to_dict()
    del body["claims"], body["dead_lettered_at"]
    meta = Meta.from_dict(body)
    assert (meta.claims, meta.dead_lettered_at) == ((), None)
    assert_valid("meta", meta.to_dict())
