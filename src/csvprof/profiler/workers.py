"""Who parses and folds the chunks: threads of this process, or forked worker processes.

The engine's main thread cuts the source into chunks of whole rows and hands them to one of
these; each gives back the partial profiles to merge. Processes are the default where
`os.fork` is safe (Linux): the fold is mostly short numpy and Arrow calls with Python glue
between them, so threads queue on the GIL, and processes profile a file faster.
"""

from __future__ import annotations

import contextlib
import gc
import mmap
import os
import pickle
import queue
import select
import signal
import struct
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final, Protocol

import pyarrow as pa

from csvprof.errors import InternalError, TimeLimitExceeded
from csvprof.profiler.parser import Parser
from csvprof.profiler.partial import PartialProfile
from csvprof.profiler.source import Buffer


class Workers(Protocol):
    @property
    def pids(self) -> list[int]:
        """The worker processes (none for threads): the memory budget counts theirs too."""

    def fold_head(self, columns: list[Any], ragged: int) -> None:
        """Fold the head rows the caller parsed for the column names (too few to observe)."""

    def buffer(self, size: int) -> Buffer:
        """Where to read the next chunk (`size` bytes); a chunk read there is submitted without a copy."""

    def submit(self, chunk: memoryview) -> None:
        """Parse and fold one chunk of whole rows; blocks while every worker is busy."""

    def finish(self) -> list[PartialProfile]:
        """Wait for every chunk, and return the partial profiles to merge."""

    def close(self) -> None:
        """Release threads, processes and buffers (also after an error)."""


def fork_available() -> bool:
    """Fork is the default only on Linux: macOS system libraries are not fork-safe."""
    return sys.platform == "linux" and hasattr(os, "fork")


def _fold(part: PartialProfile, parser: Parser, columns: list[Any], ragged: int, observe: bool) -> None:
    shares = part.update(columns, ragged)
    if observe:
        parser.observe(shares)


def _parse_and_fold(part: PartialProfile, parser: Parser, chunk: list[memoryview]) -> None:
    """Parse the one chunk in `chunk` (taking it out of the list, so it is freed once parsed)."""
    table, ragged = parser.parse(chunk.pop())
    columns = table.columns
    del table  # the columns are the only references left: each is freed once folded
    _fold(part, parser, columns, ragged, observe=True)


def _joined(tables: list[Any]) -> list[Any]:
    """Each column of `tables` (parsed chunks, in order) as one chunked column; a column read with a
    dictionary in one chunk and plain in another (the parser changed its mind) is made plain."""
    joined = []
    for pieces in zip(*(table.columns for table in tables), strict=True):
        chunks = [chunk for piece in pieces for chunk in piece.chunks]
        if len({chunk.type for chunk in chunks}) > 1:
            chunks = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in chunks]
        joined.append(pa.chunked_array(chunks))
    return joined


class _Held:
    """Parsed chunks a worker has not folded yet: on a file of many columns a chunk holds few rows,
    and every column pays a fixed cost per fold, so a worker that finds the next chunk already
    waiting parses it too and folds both at once (FOLD_ROWS, FOLD_CHUNKS)."""

    def __init__(self) -> None:
        self.tables: list[Any] = []
        self.rows = 0
        self.ragged = 0

    def add(self, table: Any, ragged: int) -> None:
        self.tables.append(table)
        self.rows += table.num_rows
        self.ragged += ragged

    def full(self) -> bool:
        return self.rows >= FOLD_ROWS or len(self.tables) >= FOLD_CHUNKS

    def fold(self, part: PartialProfile, parser: Parser) -> None:
        tables, self.tables = self.tables, []
        columns = tables[0].columns if len(tables) == 1 else _joined(tables)
        del tables  # the columns are the only references left: each is freed once folded
        _fold(part, parser, columns, self.ragged, observe=True)
        self.rows = self.ragged = 0


class ThreadWorkers:
    """`threads` threads share `threads` partials, handed out one at a time, so none needs a lock."""

    def __init__(self, parser: Parser, threads: int, num_columns: int, max_field_bytes: int) -> None:
        self._parser = parser
        self._threads = threads
        self._all = [PartialProfile(num_columns, max_field_bytes, sharing=threads) for _ in range(threads)]
        self._free: queue.Queue[PartialProfile] = queue.Queue()
        for part in self._all:
            self._free.put(part)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="csvprof")
        self._in_flight: deque[Future[None]] = deque()

    def _run(self, work: Any, *args: Any) -> None:
        part = self._free.get()
        try:
            work(part, self._parser, *args)
        finally:
            self._free.put(part)

    @property
    def pids(self) -> list[int]:
        return []

    def buffer(self, size: int) -> Buffer:
        return bytearray(size)  # a new one each time: queued chunks keep theirs

    def fold_head(self, columns: list[Any], ragged: int) -> None:
        self._in_flight.append(self._pool.submit(self._run, _fold, columns, ragged, False))

    def submit(self, chunk: memoryview) -> None:
        # In a list the worker empties: the raw bytes are freed once parsed, not kept by the
        # pool's work item until the fold ends.
        self._in_flight.append(self._pool.submit(self._run, _parse_and_fold, [chunk]))
        while len(self._in_flight) > self._threads:  # bounded read-ahead
            self._in_flight.popleft().result()

    def finish(self) -> list[PartialProfile]:
        while self._in_flight:
            self._in_flight.popleft().result()
        return self._all

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# Messages on the pipes: two little-endian int64s. To a child: (slot, length), or (-1, 0) to
# finish. From a child: (_DONE, slot); (_ERROR, n) followed by n pickled bytes; or (_RESULT, 0)
# followed by its pickled partial in pieces, each (_PART, n) and n bytes (an _ERROR may cut in).
_MESSAGE: Final = struct.Struct("<qq")
_DONE: Final = 0
_RESULT: Final = 1
_ERROR: Final = 2
_PART: Final = 3
_STOP: Final = -1
SLOTS_PER_PROCESS: Final = 2  # one chunk folding, the next one waiting
# A worker folds parsed chunks together while they hold fewer than FOLD_ROWS rows, at most
# FOLD_CHUNKS of them (each parsed chunk held costs about its size in memory).
FOLD_ROWS: Final = 16_384
FOLD_CHUNKS: Final = 2
_MAX_WAIT_S: Final = 24 * 3600.0  # select's timeout must stay finite


def _read_exact(fd: int, n: int) -> bytes:
    parts: list[bytes] = []
    while n:
        part = os.read(fd, min(n, 1 << 20))
        if not part:
            raise EOFError
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read(child: _Child, n: int) -> bytes:
    try:
        return _read_exact(child.replies, n)
    except EOFError:
        raise InternalError(f"worker process {child.pid} ended without a result") from None


def _request(child: _Child, slot: int, length: int) -> None:
    try:
        _write_all(child.requests, _MESSAGE.pack(slot, length))
    except BrokenPipeError:
        raise InternalError(f"worker process {child.pid} ended without a result") from None


def _receive(child: _Child, n: int) -> Any:
    # Pickles from our own forked child, through a pipe only the two of us hold.
    return pickle.loads(_read(child, n))  # noqa: S301


class _PartWriter:
    """A file to pickle into that sends what it is given as _PART messages: the partial is never
    held whole as bytes, in the worker or in the parent."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def write(self, data: bytes | memoryview | pickle.PickleBuffer) -> int:
        view = memoryview(data).cast("B")  # protocol 5 hands large buffers over as PickleBuffers
        _write_all(self._fd, _MESSAGE.pack(_PART, len(view)))
        _write_all(self._fd, view)
        return len(view)


class _PartReader:
    """The file a worker's _PART messages make, for pickle.load; raises the worker's error if one cuts in."""

    def __init__(self, child: _Child) -> None:
        self._child = child
        self._left = 0  # bytes of the current part not read yet

    def _next_part(self) -> None:
        kind, n = _MESSAGE.unpack(_read(self._child, _MESSAGE.size))
        if kind == _ERROR:
            raise _receive(self._child, n)
        if kind != _PART:
            raise InternalError(f"worker process {self._child.pid} sent message {kind} inside its result")
        self._left = n

    def read(self, n: int = -1) -> bytes:
        parts: list[bytes] = []
        while n:
            if not self._left:
                self._next_part()
            take = self._left if n < 0 else min(n, self._left)
            parts.append(_read(self._child, take))
            self._left -= take
            n = 0 if n < 0 else n - take
        return b"".join(parts)

    def readinto(self, buffer: memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self) -> bytes:  # pickle.load needs one; binary protocols never call it
        raise InternalError("a worker's result is a binary pickle")


class _Child:
    __slots__ = ("finished", "outstanding", "pid", "replies", "requests", "result")

    def __init__(self, pid: int, requests: int, replies: int) -> None:
        self.pid = pid
        self.requests = requests  # we write chunk slots here
        self.replies = replies  # and read what the child did here
        self.outstanding = 0
        self.finished = False  # its partial came back
        self.result: PartialProfile | None = None  # that partial, until it is merged


def _waiting(fd: int) -> bool:
    """Whether a message is there to read now."""
    return bool(select.select([fd], [], [], 0)[0])


def _serve(parser: Parser, part: PartialProfile, slots: list[mmap.mmap], inbox: int, outbox: int) -> None:
    """A worker process: fold the chunks it is sent, then send back its partial profile."""
    try:
        held = _Held()
        while True:
            if held.tables and (held.full() or not _waiting(inbox)):
                held.fold(part, parser)
            try:
                slot, length = _MESSAGE.unpack(_read_exact(inbox, _MESSAGE.size))
            except EOFError:
                return  # the parent is gone: nobody wants the result
            if slot == _STOP:
                break
            held.add(*parser.parse(memoryview(slots[slot])[:length]))
            if parser.arrow_block is None and held.rows < FOLD_ROWS:  # chunks will be folded in pairs
                parser.arrow_block = length // 2
            # The parsed table owns its memory: the slot can take the next chunk while this one folds.
            _write_all(outbox, _MESSAGE.pack(_DONE, slot))
        if held.tables:
            held.fold(part, parser)
        part.settle()
        _write_all(outbox, _MESSAGE.pack(_RESULT, 0))
        pickle.dump(part, _PartWriter(outbox), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # noqa: BLE001 - any failure goes to the parent, which raises it
        try:
            payload = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that does not pickle still has a text
            payload = pickle.dumps(InternalError(f"worker process failed: {exc!r}"))
        _write_all(outbox, _MESSAGE.pack(_ERROR, len(payload)) + payload)


class ForkWorkers:
    """`processes` forked workers, each folding whole chunks into its own partial profile.

    Chunks are read straight into shared memory slots (anonymous shared mappings: no
    /dev/shm, which Lambda lacks), so a chunk reaches its worker without a copy, and the
    workers' partials come back pickled through a pipe. The children start only when there
    are two chunks to fold: a one-chunk file is folded here. The head rows are folded here
    before the fork, so the children inherit warm caches (compiled patterns, lazily imported
    modules) instead of paying for them each.
    """

    def __init__(
        self,
        parser: Parser,
        processes: int,
        num_columns: int,
        max_field_bytes: int,
        slot_bytes: int,
        wait_s: Callable[[], float],
    ) -> None:
        """`wait_s()`: how long the caller may still wait for a worker (its time budget)."""
        self._parser = parser
        self._wait_s = wait_s
        self._processes = processes
        self._slot_bytes = slot_bytes
        self._num_columns = num_columns
        self._max_field_bytes = max_field_bytes
        self._own = self._new_part()
        self._waiting: memoryview | None = None  # the first chunk, until a second one comes
        self._children: list[_Child] = []
        self._slots: list[mmap.mmap] = []
        self._free: list[int] = []
        self._filling: int | None = None  # the slot last handed out by buffer()
        self._inline = False  # set when no worker process could be forked

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def _new_part(self) -> PartialProfile:
        return PartialProfile(self._num_columns, self._max_field_bytes, sharing=self._processes)

    def fold_head(self, columns: list[Any], ragged: int) -> None:
        _fold(self._own, self._parser, columns, ragged, observe=False)

    def buffer(self, size: int) -> Buffer:
        if size > self._slot_bytes:
            return bytearray(size)
        if not self._slots:
            count = self._processes * SLOTS_PER_PROCESS
            self._slots = [mmap.mmap(-1, self._slot_bytes) for _ in range(count)]  # MAP_SHARED
            self._free = list(range(count))
        if self._filling is not None:  # handed out, never submitted (the stream had ended)
            self._free.append(self._filling)
        while not self._free:
            self._collect()
        self._filling = self._free.pop()
        return self._slots[self._filling]

    def submit(self, chunk: memoryview) -> None:
        if len(chunk) > self._slot_bytes:
            raise ValueError(f"a chunk of {len(chunk)} bytes does not fit a {self._slot_bytes}-byte slot")
        if self._filling is not None and self._slot_of(chunk) == self._filling:
            self._filling = None  # the slot now holds this chunk until a worker is done with it
        if not self._children and not self._inline:
            if self._waiting is None:
                self._waiting = chunk
                return
            self._start()
            waiting, self._waiting = self._waiting, None
            self._dispatch(waiting)
        self._dispatch(chunk)

    def finish(self) -> list[PartialProfile]:
        if not self._children:
            if self._waiting is not None:
                _parse_and_fold(self._own, self._parser, [self._waiting])
                self._waiting = None
            return [self._own]
        for child in self._children:
            _request(child, _STOP, 0)
        # This process would wait idle while the workers fold their last chunks: it settles its own
        # partial meanwhile, and merges each worker's partial as it comes.
        self._own.settle()
        while any(not child.finished for child in self._children):
            self._collect()
            for child in self._children:
                if child.result is not None:
                    self._own.merge(child.result)
                    child.result = None
        return [self._own]

    def close(self) -> None:
        for child in self._children:
            os.close(child.requests)
            os.close(child.replies)
            with contextlib.suppress(ProcessLookupError):  # one that already finished
                os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
        self._children = []
        self._slots = []  # unmapped once no chunk view refers to them

    def _start(self) -> None:
        # A collection in a child walks every object it inherited and writes their headers, which
        # copies each page of them: frozen objects are skipped, so the children share those pages.
        gc.freeze()
        try:
            self._fork()
        finally:
            gc.unfreeze()
        self._inline = not self._children  # with none at all, this process folds every chunk

    def _fork(self) -> None:
        for _ in range(self._processes):
            inbox, requests = os.pipe()
            replies, outbox = os.pipe()
            part = self._new_part()
            try:
                pid = os.fork()
            except OSError:  # no more processes to be had (a process or memory limit)
                for fd in (inbox, requests, replies, outbox):
                    os.close(fd)
                break
            if pid == 0:  # the child: serve, then leave without running the parent's cleanup
                try:
                    os.close(requests)
                    os.close(replies)
                    for sibling in self._children:
                        os.close(sibling.requests)
                        os.close(sibling.replies)
                    _serve(self._parser, part, self._slots, inbox, outbox)
                finally:
                    os._exit(0)
            os.close(inbox)
            os.close(outbox)
            self._children.append(_Child(pid, requests, replies))

    def _dispatch(self, chunk: memoryview) -> None:
        if not self._inline:
            self._send(chunk)
            return
        slot = self._slot_of(chunk)
        _parse_and_fold(self._own, self._parser, [chunk])
        if slot is not None:
            self._free.append(slot)

    def _slot_of(self, chunk: memoryview) -> int | None:
        return next((k for k, slot in enumerate(self._slots) if chunk.obj is slot), None)

    def _send(self, chunk: memoryview) -> None:
        slot = self._slot_of(chunk)
        if slot is None:  # read elsewhere (the first chunk, a last partial row): copy it into a slot
            while not self._free:
                self._collect()
            slot = self._free.pop()
            self._slots[slot][: len(chunk)] = chunk
        child = min(self._children, key=lambda c: c.outstanding)
        child.outstanding += 1
        _request(child, slot, len(chunk))

    def _collect(self) -> None:
        """Wait for the workers' messages (a finished chunk frees its slot); raise their errors."""
        waiting = [child for child in self._children if not child.finished]
        # Never block past the time budget: a worker that hangs must still end in a status.
        timeout = min(max(0.0, self._wait_s()), _MAX_WAIT_S)
        ready, _, _ = select.select([child.replies for child in waiting], [], [], timeout)
        if not ready:
            raise TimeLimitExceeded("a worker process was still folding a chunk when time ran out")
        for child in waiting:
            if child.replies not in ready:
                continue
            kind, n = _MESSAGE.unpack(_read(child, _MESSAGE.size))
            if kind == _DONE:
                child.outstanding -= 1
                self._free.append(n)
            elif kind == _RESULT:
                # Pickles from our own forked child, through a pipe only the two of us hold.
                child.result = pickle.load(_PartReader(child))  # noqa: S301
                child.finished = True
            else:
                raise _receive(child, n)
