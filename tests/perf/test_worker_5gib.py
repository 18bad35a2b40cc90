"""5 GiB through the real worker path, Lambda-shaped: `./scripts/test -e perf-5g` (opt-in, not in CI).

A seeded mixed file of exactly 5 GiB (MAX_SOURCE_BYTES, the largest upload) goes into
LocalStack's S3 with its meta UPLOADED and its message on the blue queue; the event the local
runtime's poller builds from that message (`csvprof.local.poller.build_event`) is handed to the
worker function in a subprocess joined to the Lambda-shaped cgroup (tests/perf/worker_run.py),
whose context starts with the function's 900 s. The dataset must end READY with at least half
of them left. LocalStack, not moto's server: moto answers a GET with the whole object read into
memory (`FakeKey.value`), LocalStack keeps objects in files and reads them in 64 KiB chunks. Its
default HTTP server (twisted) takes the chunks as fast as the file gives them, though, with no
back-pressure from a slower client: serving this file it grew to 8-13 GB and reset the
connection after about 100 s, every other run. Its hypercorn server waits for the client and stays
near 160 MB, so the LocalStack started here runs hypercorn (GATEWAY_SERVER).

LocalStack is started by scripts/localstack.sh (as the e2e-localstack layer does; at
LOCALSTACK_ENDPOINT when set) and stopped at the end; CSVPROF_LOCALSTACK_ENDPOINT points at one
already running instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from csvprof.adapters.s3 import S3MetaRepository
from csvprof.config import Settings
from csvprof.contracts import keys
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.timefmt import format_ts
from csvprof.limits import MAX_SOURCE_BYTES, WORKER_TIMEOUT_S
from csvprof.local.poller import build_event
from csvprof.local.testdata import write_csv
from tests.e2e_localstack.aws import REGION, LocalStack
from tests.perf.cgroup import LAMBDA_CPUS, CgroupUnavailable, ProbeCgroup
from tests.perf.conftest import ROOT, record
from tests.perf.matrix import SEED
from tests.perf.probe import PeakSampler

OPT_IN_ENV = "CSVPROF_PERF_5G"
pytestmark = [
    pytest.mark.perf5g,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(
        not os.environ.get(OPT_IN_ENV), reason=f"opt-in: {OPT_IN_ENV}=1 (./scripts/test -e perf-5g sets it)"
    ),
]
SCRIPT = ROOT / "scripts" / "localstack.sh"
# Where scripts/localstack.sh starts it: LOCALSTACK_ENDPOINT's host and port (another port than
# the e2e-localstack layer's 4566 lets both run at once).
ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4566")
PID_FILE = Path(os.environ.get("LOCALSTACK_HOME", ROOT / ".localstack")) / "localstack.pid"
# The last rows pad the file to the byte; each stays far below MAX_FIELD_BYTES.
PAD_ROW_BYTES = 32 * 1024


def write_exactly(path: Path, size: int) -> int:
    """A seeded mixed CSV of exactly `size` bytes; returns its data rows.

    The generator stops about a row past its target, so it aims a little short and rows whose
    comment is a run of "x" fill the rest.
    """
    rows = write_csv(path, size - 8 * PAD_ROW_BYTES, seed=SEED)
    gap = size - path.stat().st_size
    assert PAD_ROW_BYTES < gap <= 8 * PAD_ROW_BYTES, gap
    with path.open("ab") as f:
        while gap:
            prefix = (
                f"{rows},1.00,1,2020-01-01,2020-01-01T00:00:00Z,true,books,00000,"
                "00000000-0000-4000-8000-000000000000,ann@example.com,"
            ).encode()
            # The last row takes all that is left; the one before leaves it room for its prefix.
            width = gap - len(prefix) - 1 if gap <= PAD_ROW_BYTES else PAD_ROW_BYTES - len(prefix) - 1
            row = prefix + b"x" * width + b"\n"
            f.write(row)
            gap -= len(row)
            rows += 1
    assert path.stat().st_size == size
    return rows


@pytest.fixture(scope="module")
def lambda_shaped() -> None:
    """Skips, with the reason, where the Lambda-shaped cgroup cannot be made (before LocalStack starts)."""
    try:
        ProbeCgroup.create(lambda_shaped=True).remove()
    except CgroupUnavailable as exc:
        pytest.skip(f"no cgroup with a CPU quota and a memory limit can be made here: {exc}")


@pytest.fixture(scope="module")
def localstack(lambda_shaped: None) -> Iterator[LocalStack]:
    external = os.environ.get("CSVPROF_LOCALSTACK_ENDPOINT")
    if external:
        yield LocalStack.at(external)
        return
    subprocess.run([str(SCRIPT), "start"], check=True, env={**os.environ, "GATEWAY_SERVER": "hypercorn"})
    try:
        yield LocalStack.at(ENDPOINT)
    finally:
        subprocess.run([str(SCRIPT), "stop"], check=False)


@pytest.fixture(scope="module")
def settings(localstack: LocalStack) -> Iterator[Settings]:
    """A bucket, the two work queues and an event bus of this run's own, removed afterwards."""
    name = f"csvprof-perf-{uuid.uuid4().hex[:8]}"
    s3, sqs, events = localstack.s3(), localstack.sqs(), localstack.events()
    s3.create_bucket(Bucket=name)
    blue = sqs.create_queue(QueueName=f"{name}-blue")["QueueUrl"]
    green = sqs.create_queue(QueueName=f"{name}-green")["QueueUrl"]
    events.create_event_bus(Name=name)
    try:
        yield Settings(
            bucket=name,
            blue_queue_url=blue,
            green_queue_url=green,
            event_bus_name=name,
            endpoint_url=localstack.endpoint_url,
            region=REGION,
        )
    finally:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=item["Key"])
        s3.delete_bucket(Bucket=name)
        for url in (blue, green):
            sqs.delete_queue(QueueUrl=url)
        events.delete_event_bus(Name=name)


def emulator_memory(pid: int | None) -> PeakSampler:
    """The emulator's resident memory, sampled every second while the worker runs (when we started it)."""

    def vm_rss_mb() -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    return PeakSampler(vm_rss_mb, 1.0 if pid is not None else 0.0)


def test_5gib_through_the_worker_lambda_shaped(
    benchmark: Any, localstack: LocalStack, settings: Settings, perf_dir: Path
) -> None:
    path = perf_dir / "mixed-5gib.csv"
    started = time.monotonic()
    size = MAX_SOURCE_BYTES
    rows = write_exactly(path, size)
    print(f"\ngenerated {size:,} bytes, {rows:,} rows in {time.monotonic() - started:.0f} s")

    s3 = localstack.s3()
    dataset_id = keys.new_dataset_id()
    started = time.monotonic()
    transfer = TransferConfig(multipart_chunksize=64 * 2**20, max_concurrency=4)
    s3.upload_file(str(path), settings.bucket, keys.raw_key(dataset_id), Config=transfer)
    path.unlink()  # the emulator holds its copy now
    print(f"uploaded to {settings.endpoint_url} in {time.monotonic() - started:.0f} s")
    now = datetime.now(UTC)
    metas = S3MetaRepository(s3, settings.bucket)
    metas.create(Meta.new(dataset_id, name=path.name, route="blue", source_bytes=size, now=now))

    sqs = localstack.sqs()
    message = DatasetMessage(dataset_id=dataset_id, route="blue", enqueued_at=format_ts(now))
    sqs.send_message(QueueUrl=settings.blue_queue_url, MessageBody=message.to_json())
    received = sqs.receive_message(
        QueueUrl=settings.blue_queue_url,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
        WaitTimeSeconds=5,
    )["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=settings.blue_queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]
    event = build_event(received, queue_arn=arn["QueueArn"], region=settings.region)

    out = perf_dir / "worker-5gib.json"
    cgroup = ProbeCgroup.create(lambda_shaped=True)
    started_here = PID_FILE.exists() and not os.environ.get("CSVPROF_LOCALSTACK_ENDPOINT")
    emulator_pid = int(PID_FILE.read_text()) if started_here else None
    try:

        def invoke() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "tests.perf.worker_run", str(out)],
                cwd=ROOT,
                input=json.dumps(event),
                capture_output=True,
                text=True,
                timeout=WORKER_TIMEOUT_S + 60,
                env={**os.environ, **settings.to_env()},
                preexec_fn=cgroup.join,
            )

        with emulator_memory(emulator_pid) as emulator:
            done = benchmark.pedantic(invoke, rounds=1, iterations=1)
        assert done.returncode == 0, f"worker exited {done.returncode}: {done.stderr[-3000:]}"
        result = json.loads(out.read_text())
        peak = cgroup.peak_mb() + result["rss_file_mb"]
    finally:
        cgroup.remove()

    loaded = metas.load(dataset_id)
    assert loaded is not None
    if loaded.meta.status is not Status.READY:  # the function's own log says why
        pytest.fail(
            f"{loaded.meta.status.value} {loaded.meta.error}, answer {result['answer']}; "
            f"the worker's log ends:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
        )
    profile = json.loads(
        s3.get_object(Bucket=settings.bucket, Key=keys.profile_key(dataset_id))["Body"].read()
    )
    entry = {
        "bytes": size,
        "rows": profile["dataset"]["rows"],
        "status": loaded.meta.status.value,
        "seconds": round(result["seconds"], 1),
        "mb_per_s": round(size / 1e6 / result["seconds"], 1),
        "remaining_s": round(result["remaining_s"], 1),
        "peak_rss_mb": round(peak, 1),
        "workers": result["workers"],
        "cpu_quota": round(LAMBDA_CPUS, 3),
        "endpoint": "localstack",
        "emulator_peak_rss_mb": round(emulator.peak_mb, 1) if emulator_pid is not None else None,
    }
    record(benchmark, "worker5g", "mixed", "5GIB", entry)
    print(
        f"5 GiB through the worker: {entry['status']} in {entry['seconds']} s ({entry['mb_per_s']} MB/s), "
        f"{entry['remaining_s']} s of {WORKER_TIMEOUT_S} left, tree peak {entry['peak_rss_mb']} MB, "
        f"{entry['workers']} worker(s); LocalStack peak RSS {entry['emulator_peak_rss_mb']} MB"
    )
    assert result["answer"] == {"batchItemFailures": []}
    assert loaded.meta.status is Status.READY
    assert profile["dataset"]["rows"] == rows
    assert result["remaining_s"] >= WORKER_TIMEOUT_S / 2
