"""Racing writers on a real S3 endpoint: conditional writes never lose or reverse an update."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from csvprof.adapters.s3 import S3MetaRepository
from csvprof.contracts import keys
from csvprof.contracts.meta import Meta, Status
from csvprof.domain.state import update_meta
from csvprof.errors import PreconditionFailed
from csvprof.local.stack import EmbeddedStack


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def repo(stack: EmbeddedStack) -> S3MetaRepository:
    return S3MetaRepository(stack.s3(), stack.settings.bucket)


def new_dataset(repo: S3MetaRepository) -> str:
    dataset_id = keys.new_dataset_id()
    repo.create(Meta.new(dataset_id, name=None, route="blue", source_bytes=1, now=now()))
    return dataset_id


def test_create_refuses_to_overwrite(repo: S3MetaRepository) -> None:
    dataset_id = new_dataset(repo)
    with pytest.raises(PreconditionFailed):
        repo.create(Meta.new(dataset_id, name="again", route="green", source_bytes=2, now=now()))
    loaded = repo.load(dataset_id)
    assert loaded is not None
    assert loaded.meta.name is None


def test_two_writers_with_the_same_etag_only_one_wins(repo: S3MetaRepository) -> None:
    dataset_id = new_dataset(repo)
    seen = repo.load(dataset_id)
    assert seen is not None
    barrier = threading.Barrier(2)

    def write(route: str) -> str:
        changed = Meta.from_dict({**seen.meta.start(now()).to_dict(), "route": route})
        barrier.wait()
        try:
            repo.replace(changed, seen.etag)
        except PreconditionFailed:
            return "lost"
        return "won"

    with ThreadPoolExecutor(2) as pool:
        results = sorted(pool.map(write, ["blue", "green"]))
    assert results == ["lost", "won"]


@pytest.mark.parametrize("writers", [2, 4])
def test_racing_claims_produce_exactly_one_claim(repo: S3MetaRepository, writers: int) -> None:
    dataset_id = new_dataset(repo)
    barrier = threading.Barrier(writers)
    claims: list[int] = []
    lock = threading.Lock()

    def claim(_: int) -> Meta:
        barrier.wait()

        def decide(meta: Meta) -> Meta | None:
            if meta.status is not Status.UPLOADED:
                return None
            with lock:
                claims.append(1)
            return meta.start(now())

        return update_meta(repo, dataset_id, decide)

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(claim, range(writers)))
    final = repo.load(dataset_id)
    assert final is not None
    assert final.meta.status is Status.PROCESSING
    assert final.meta.attempts == 1  # one claim landed, none was lost or doubled
    assert all(r.status is Status.PROCESSING for r in results)


def test_ready_and_failed_race_ends_in_exactly_one_terminal_state(repo: S3MetaRepository) -> None:
    dataset_id = new_dataset(repo)
    update_meta(repo, dataset_id, lambda m: m.start(now()))
    barrier = threading.Barrier(2)

    def finish(outcome: str) -> Meta:
        barrier.wait()

        def decide(meta: Meta) -> Meta | None:
            if meta.status.terminal:
                return None
            return meta.ready(now()) if outcome == "ready" else meta.failed("INTERNAL_ERROR", "x", now())

        return update_meta(repo, dataset_id, decide)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(finish, ["ready", "failed"]))
    final = repo.load(dataset_id)
    assert final is not None
    # Both writers agree on the single outcome that was written; neither reversed the other.
    assert final.meta.status.terminal
    assert {r.status for r in results} == {final.meta.status}
