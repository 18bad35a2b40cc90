"""profile(A) ⊕ profile(B) ⊕ ...: one file profiled as separate byte ranges, for the merge tests.

Built from the engine's own parts (open_source, Parser, fold, ThreadWorkers, merge,
assemble): each range is folded into its own partial profile, as a separate worker would,
and the partials are merged and assembled exactly as the engine does for one stream.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence

from csvprof.contracts.profile import Profile, Runtime
from csvprof.domain.ports import Budget
from csvprof.profiler.assemble import assemble, merge
from csvprof.profiler.engine import THREAD_BLOCK_SIZE, fold, open_source
from csvprof.profiler.parser import Parser
from csvprof.profiler.partial import PartialProfile
from csvprof.profiler.workers import ThreadWorkers, Workers


def profile_ranges(
    data: bytes, cuts: Sequence[int], *, budget: Budget, block_size: int = THREAD_BLOCK_SIZE
) -> Profile:
    """The profile of `data` cut at byte offsets `cuts` (row boundaries), one partial per range.

    The runtime section is zeros: only the engine measures a run.
    """
    limits = budget.limits
    opened = open_source(io.BytesIO(data), limits)
    whole = opened.stream.readall()
    edges = [0, *(c - opened.sniffed.body_start for c in cuts), len(whole)]
    parser = Parser(opened.sniffed, limits, block_size)
    header: list[str] | None = None
    partials: list[PartialProfile] = []
    for start, end in itertools.pairwise(edges):
        started: list[Workers] = []

        def one_thread() -> Workers:
            workers = ThreadWorkers(parser, 1, len(parser.names or ()), limits.max_field_bytes)
            started.append(workers)  # noqa: B023 - called only within this iteration's fold
            return workers

        try:
            folded = fold(io.BytesIO(whole[start:end]), parser, new_workers=one_thread)
        finally:
            for workers in started:
                workers.close()
        header = folded.header if folded.header is not None else header
        partials.extend(folded.partials)
    total = merge(partials)
    return assemble(
        total,
        header,
        dialect=opened.sniffed.dialect,
        source_bytes=opened.source_bytes,
        dataset_id=None,
        generated_at=budget.now(),
        runtime=Runtime(duration_ms=0, bytes_read=opened.source_bytes, rows=total.rows, peak_rss_mb=0.0),
    )
