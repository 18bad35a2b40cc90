"""Forked worker processes: the threads' profile, errors carried back with their codes, none left behind."""

from __future__ import annotations

import errno
import io
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from csvprof import errors
from csvprof.limits import MiB
from csvprof.local.testdata import write_csv
from csvprof.profiler import ArrowProfileEngine, engine, rss_mb
from csvprof.profiler.system import child_pids
from tests.support.budget import budget
from tests.support.contracts import assert_valid

BLOCK = 256 * 1024
EXACT = ("type_counts", "null_count", "empty_count", "min", "max", "length", "inferred_type", "distinct")
EXACT += ("leading_zeros", "whitespace_padded", "zeros", "negatives", "mixed")


pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="forked workers are Linux-only")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("workers") / "gen.csv"
    write_csv(path, 20_000_000, seed=3)
    return path.read_bytes()


def run(data: bytes, *, processes: bool, workers: int = 2, **overrides: Any) -> dict[str, Any]:
    engine = ArrowProfileEngine(block_size=BLOCK, workers=workers, processes=processes)
    return engine.profile(io.BytesIO(data), size=len(data), budget=budget(**overrides)).to_dict()


def test_forked_workers_give_the_profile_threads_give(generated: bytes) -> None:
    forked = run(generated, processes=True)
    threads = run(generated, processes=False, workers=1)
    assert_valid("profile", forked)
    assert forked["dataset"] == threads["dataset"]
    assert forked["dataset"]["rows"] > 100_000
    for a, b in zip(forked["columns"], threads["columns"], strict=True):
        assert {k: a[k] for k in EXACT} == {k: b[k] for k in EXACT}, a["name"]
        assert [a[k] for k in ("mean", "stddev", "sum")] == pytest.approx(
            [b[k] for k in ("mean", "stddev", "sum")]
        )
    assert child_pids() == []


def test_the_memory_budget_is_given_the_worker_pids(
    generated: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "RSS_SAMPLE_BYTES", 4 * MiB)  # several reads in a 20 MB file
    seen: list[list[int]] = []

    def probe(workers: list[int]) -> float:
        seen.append(list(workers))
        return 1.0

    run(generated, processes=True, rss_mb=probe)
    assert any(len(pids) == 2 for pids in seen), seen
    assert child_pids() == []


def test_rss_counts_a_workers_private_pages_once() -> None:
    pid = os.fork()
    if pid == 0:  # a worker holding 64 MB of its own
        held = np.ones(8 * MiB)  # noqa: F841 - kept resident until the parent is done
        time.sleep(30)
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while rss_mb([pid]) - rss_mb() < 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        extra = rss_mb([pid]) - rss_mb()
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    # 64 MB of its own; the pages it still shares with this process are not counted again.
    assert 60 < extra < 100


def test_a_one_chunk_file_is_folded_without_forking(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise AssertionError("forked for a file of one chunk")

    monkeypatch.setattr(os, "fork", no_fork)
    data = b"a,b\n" + b"1,x\n" * 50_000  # 200 KB: one 256 KiB chunk
    assert run(data, processes=True)["dataset"]["rows"] == 50_000


def test_an_error_in_a_worker_keeps_its_code_and_leaves_no_worker(generated: bytes) -> None:
    cut = generated.index(b"\n", len(generated) // 2) + 1
    data = generated[:cut] + b"\xff\xfe not UTF-8\n" + generated[cut:]
    with pytest.raises(errors.EncodingError):
        run(data, processes=True)
    assert child_pids() == []


def test_the_time_limit_stops_the_workers(generated: bytes) -> None:
    checks = iter(range(1_000_000))
    with pytest.raises(errors.TimeLimitExceeded):
        run(generated, processes=True, remaining_s=lambda: 1e9 if next(checks) < 20 else 0.0)
    assert child_pids() == []


class KillingStream(io.RawIOBase):
    """A source that kills the reader's worker processes once it has handed out `after` bytes."""

    def __init__(self, data: bytes, after: int) -> None:
        self._buf = io.BytesIO(data)
        self._after = after

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._buf.tell() >= self._after:
            for pid in child_pids():
                os.kill(pid, signal.SIGKILL)
        data = self._buf.read(len(b))
        b[: len(data)] = data
        return len(data)


def test_a_worker_killed_mid_run_is_an_internal_error_not_a_hang(generated: bytes) -> None:
    engine = ArrowProfileEngine(block_size=BLOCK, workers=2, processes=True)
    with pytest.raises(errors.InternalError, match="ended without a result"):
        engine.profile(KillingStream(generated, after=4 * MiB), size=len(generated), budget=budget())
    assert child_pids() == []


def test_chunks_read_into_shared_slots_match_threads_at_every_cut() -> None:
    """Small blocks: a first chunk inside the head, quoted newlines across cuts, no final newline."""
    rows = [f'{i},"note {i}\nline two, ""quoted""",{i * 0.5}' for i in range(3_000)]
    data = ("n,text,x\n" + "\n".join(rows)).encode()
    for block in (4 * 1024, 16 * 1024, 100 * 1024):
        engine = ArrowProfileEngine(block_size=block, workers=2, processes=True)
        forked = engine.profile(io.BytesIO(data), size=len(data), budget=budget()).to_dict()
        single = (
            ArrowProfileEngine(block_size=block, workers=1, processes=False)
            .profile(io.BytesIO(data), size=len(data), budget=budget())
            .to_dict()
        )
        assert forked["dataset"]["rows"] == single["dataset"]["rows"] == 3_000, block
        for a, b in zip(forked["columns"], single["columns"], strict=True):
            assert {k: a[k] for k in EXACT} == {k: b[k] for k in EXACT}, (block, a["name"])
    assert child_pids() == []


@pytest.mark.parametrize("forks_that_work", [0, 1])
def test_when_fork_fails_the_profile_is_made_with_the_workers_there_are(
    generated: bytes, monkeypatch: pytest.MonkeyPatch, forks_that_work: int
) -> None:
    real_fork, left = os.fork, [forks_that_work]

    def fork() -> int:
        if left[0] == 0:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        left[0] -= 1
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    forked = run(generated, processes=True)
    monkeypatch.undo()
    threads = run(generated, processes=False, workers=1)
    assert forked["dataset"] == threads["dataset"]
    for a, b in zip(forked["columns"], threads["columns"], strict=True):
        assert {k: a[k] for k in EXACT} == {k: b[k] for k in EXACT}, a["name"]
    assert child_pids() == []


def test_a_partial_streamed_in_pieces_comes_back_whole_and_an_error_cutting_in_is_raised() -> None:
    import pickle
    import threading

    from csvprof.profiler.workers import _ERROR, _MESSAGE, _PART, _Child, _PartReader, _PartWriter

    # Given a worker's result larger than a pipe holds, pickled into _PART messages from a thread
    value = {"counts": np.arange(200_000), "name": "é" * 1000}
    replies, outbox = os.pipe()
    child = _Child(pid=0, requests=-1, replies=replies)
    writer = threading.Thread(
        target=lambda: pickle.dump(value, _PartWriter(outbox), protocol=pickle.HIGHEST_PROTOCOL)
    )
    writer.start()
    # Then the parent's reader unpickles it whole
    back = pickle.load(_PartReader(child))  # noqa: S301 - our own pickle
    writer.join()
    assert back["name"] == value["name"]
    assert (back["counts"] == value["counts"]).all()
    # Given a worker that fails after sending part of its result
    os.write(outbox, _MESSAGE.pack(_PART, 4) + b"\x80\x05\x95\x00")
    error = pickle.dumps(errors.EncodingError("the file is not valid UTF-8 text"))
    os.write(outbox, _MESSAGE.pack(_ERROR, len(error)) + error)
    # Then its error is raised with its code, not a broken pickle
    with pytest.raises(errors.EncodingError):
        pickle.load(_PartReader(child))  # noqa: S301
    os.close(replies)
    os.close(outbox)


def test_chunks_folded_in_pairs_and_parsed_in_halves_match_threads_even_with_a_row_past_a_half() -> None:
    # Few rows a chunk: the workers fold two parsed chunks at once, each parsed in two Arrow
    # blocks; one row is longer than such a half (not than a chunk): Arrow carries it across.
    rows = [f"{i},{'long ' * 9_000 if i == 7_000 else 'w' * (i % 50)},{i % 7}" for i in range(30_000)]
    data = ("n,text,k\n" + "\n".join(rows) + "\n").encode()
    block = 64 * 1024
    forked = ArrowProfileEngine(block_size=block, workers=2, processes=True)
    single = ArrowProfileEngine(block_size=block, workers=1, processes=False)
    a = forked.profile(io.BytesIO(data), size=len(data), budget=budget()).to_dict()
    b = single.profile(io.BytesIO(data), size=len(data), budget=budget()).to_dict()
    assert a["dataset"]["rows"] == b["dataset"]["rows"] == 30_000
    for x, y in zip(a["columns"], b["columns"], strict=True):
        assert {k: x[k] for k in EXACT} == {k: y[k] for k in EXACT}, x["name"]
    assert a["columns"][1]["length"]["max"] == 45_000
    assert child_pids() == []


def test_a_joint_fold_of_parsed_chunks_is_the_fold_of_each() -> None:
    from csvprof.profiler.dialect import sniff
    from csvprof.profiler.parser import Parser
    from csvprof.profiler.partial import PartialProfile
    from csvprof.profiler.workers import _Held

    # Given two chunks of a file, the second parsed with "v" plain (the parser changed its mind)
    head = b"id,v,k\n"
    first = b"".join(f"{i},{'ab'[i % 2]},{i % 3}\n".encode() for i in range(500))
    second = b"".join(f"{i},u{i},{i % 5}\n".encode() for i in range(500, 1_200))
    parser = Parser(sniff(head + first, False), budget().limits, 1 << 20)
    parser.names = ["id", "v", "k"]
    tables = [parser.parse(first)[0]]
    parser.plain = [False, True, False]
    tables.append(parser.parse(second)[0])
    assert tables[0].schema != tables[1].schema
    # When they are folded at once, and one by one
    joint, each = PartialProfile(3, 1 << 20), PartialProfile(3, 1 << 20)
    held = _Held()
    for table in tables:
        held.add(table, 0)
        each.update(table.columns, 0)
    held.fold(joint, parser)
    # Then the partials agree
    assert joint.rows == each.rows == 1_200
    for a, b in zip(joint.columns, each.columns, strict=True):
        x, y = a.result(0, "c", "c"), b.result(0, "c", "c")
        assert {k: getattr(x, k) for k in (*EXACT, "top_values")} == {
            k: getattr(y, k) for k in (*EXACT, "top_values")
        }
        assert x.mean == pytest.approx(y.mean)
