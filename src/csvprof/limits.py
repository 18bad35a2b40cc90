"""Runtime limits: the numbers `docs/runtime.md` promises.

Tests parse docs/runtime.md and compare it with these constants, so a change here
without the doc change (or the reverse) fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024
GiB = 1024 * MiB

API_MEMORY_MB = 256
API_TIMEOUT_S = 10
WORKER_MEMORY_MB = 2048
WORKER_TIMEOUT_S = 900
LAMBDA_ARCHITECTURE = "arm64"
LAMBDA_RUNTIME = "python3.13"

# HTTP API caps payloads at 10 MB and synchronous Lambda invokes at 6 MB; a
# base64-encoded body grows by 4/3, so 4 MiB is the largest body that fits both.
MAX_DIRECT_UPLOAD_BYTES = 4 * MiB

# The worker stops (TIME_LIMIT_EXCEEDED) while this much time is left, so it can
# still write FAILED before Lambda kills it.
WORKER_STOP_REMAINING_S = 60
# Half the worker's memory: the rest is the runtime, boto3 buffers and headroom.
PROFILER_MEMORY_BUDGET_MB = WORKER_MEMORY_MB // 2
MAX_SOURCE_BYTES = 5 * GiB
MAX_COLUMNS = 2_000
MAX_FIELD_BYTES = 1 * MiB

SQS_VISIBILITY_TIMEOUT_S = 6 * WORKER_TIMEOUT_S
SQS_MAX_RECEIVE_COUNT = 3
DLQ_RETENTION_S = 14 * 24 * 3600
SQS_BATCH_SIZE = 1
# A delivery that failed unexpectedly comes back after RETRY_BASE_DELAY_S x 4^(receive - 1)
# (30 s, 120 s, 480 s), not the queue's 5,400 s: a broken release reaches the DLQ, and its
# alarm, within minutes. Capped at one worker timeout.
RETRY_BASE_DELAY_S = 30
RETRY_MAX_DELAY_S = WORKER_TIMEOUT_S

# Reserved concurrency (deployment settings: compute.yaml parameter defaults). Each work
# queue's event source mapping may run half the worker's reservation, so blue and green
# together never exceed it (a throttled SQS delivery can count as a receive).
API_RESERVED_CONCURRENCY = 100
WORKER_RESERVED_CONCURRENCY = 20
WORKER_QUEUE_MAX_CONCURRENCY = WORKER_RESERVED_CONCURRENCY // 2

# The reconciler (a scheduled function) sweeps meta/ so no dataset is left behind.
RECONCILE_INTERVAL_S = 300
RECONCILER_MEMORY_MB = 256
RECONCILER_TIMEOUT_S = 60
# UPLOADED for longer than this means the API's send never happened: enqueue it again.
# Far above the API's 10 s; a dataset merely waiting in a backlog gets a duplicate message,
# which the worker skips with one meta read.
RECONCILE_STALE_UPLOADED_S = 600
# Metas whose object is older than this are not read: a stuck dataset is resolved long before
# (the longest lease is 3 visibility timeouts, 4.5 h), so old terminal metas cost no GET.
RECONCILE_HORIZON_S = 24 * 3600
# Meta keys one run looks at (listing and, when old enough, reading them); a larger bucket is
# covered over several runs, each continuing where the last one stopped.
RECONCILE_MAX_EXAMINED = 10_000


@dataclass(frozen=True, slots=True)
class ProfileLimits:
    """The limits the profiling engine enforces; tests shrink them to exercise each code."""

    max_source_bytes: int = MAX_SOURCE_BYTES
    max_columns: int = MAX_COLUMNS
    max_field_bytes: int = MAX_FIELD_BYTES
    memory_budget_mb: int = PROFILER_MEMORY_BUDGET_MB
    stop_remaining_s: float = WORKER_STOP_REMAINING_S
