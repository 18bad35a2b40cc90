"""Signed uploads from many concurrent clients: none refused by the socket, none lost.

CSVPROF_LOAD_UPLOADS sets how many uploads each run sends (default 100, to keep the e2e
layer short on a 2-core runner; 1000 for the full figure). The figures are printed (run
with -s) and written to the terminal summary line of the test.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import urllib3

from csvprof.client import CsvProfApiError, CsvProfClient
from csvprof.local.runtime import LocalRuntime

UPLOADS = int(os.environ.get("CSVPROF_LOAD_UPLOADS", "100"))
# Time for the worker to bring every accepted dataset to READY after the last upload.
TERMINAL_DEADLINE_S = float(os.environ.get("CSVPROF_LOAD_TERMINAL_S", "240"))


@dataclass
class Tally:
    accepted: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def small_csv(index: int) -> bytes:
    rows = "".join(f"{index}-{row},{row * 1.5},name {row % 7}\n" for row in range(20))
    return f"id,value,name\n{rows}".encode()


def upload_one(client: CsvProfClient, tally: Tally, index: int) -> None:
    started = time.monotonic()
    try:
        dataset_id = client.upload(small_csv(index), name=f"load-{index}.csv")["dataset_id"]
    except CsvProfApiError as exc:
        outcome = f"HTTP {exc.status} {exc.code}"
    except urllib3.exceptions.ProtocolError as exc:
        # urllib3 wraps a reset as ProtocolError("Connection aborted.", ConnectionResetError(...)).
        reason = exc.args[1] if len(exc.args) > 1 else exc
        outcome = "connection reset" if isinstance(reason, ConnectionResetError) else f"protocol {reason!r}"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        outcome = "connection reset" if "reset" in repr(exc).lower() else type(exc).__name__
    else:
        with tally.lock:
            tally.accepted.append(dataset_id)
            tally.latencies_s.append(time.monotonic() - started)
        return
    with tally.lock:
        tally.errors[outcome] += 1


def statuses(client: CsvProfClient, wanted: set[str]) -> Counter[str]:
    """Status of every wanted dataset, by paging through the list (100 a page)."""
    found: Counter[str] = Counter()
    token: str | None = None
    while True:
        page = client.list(limit=100, token=token)
        found.update(item["status"] for item in page["items"] if item["dataset_id"] in wanted)
        token = page.get("next_token")
        if not token:
            return found


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@pytest.mark.parametrize("clients", [32, 200])
def test_concurrent_signed_uploads_are_all_accepted_and_profiled(
    runtime: LocalRuntime, clients: int, request: pytest.FixtureRequest
) -> None:
    # Given one signing client with a connection per concurrent caller, retrying nothing,
    # so a reset or refused connection is counted, not hidden
    client = CsvProfClient(runtime.api_url, max_connections=clients, retries=False, timeout_s=60)
    tally = Tally()

    # When UPLOADS uploads are sent by `clients` threads at once
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda index: upload_one(client, tally, index), range(UPLOADS)))
    upload_s = time.monotonic() - started

    # And the worker is given time to profile every accepted dataset
    wanted = set(tally.accepted)
    deadline = time.monotonic() + TERMINAL_DEADLINE_S
    counts = statuses(client, wanted)
    while counts["READY"] + counts["FAILED"] < len(wanted) and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = statuses(client, wanted)
    terminal_s = time.monotonic() - started

    resets = tally.errors["connection reset"]
    lost = len(wanted) - sum(counts.values())
    latencies = tally.latencies_s or [0.0]
    figures = (
        f"{UPLOADS} signed uploads, {clients} concurrent clients: accepted {len(tally.accepted)}, "
        f"READY {counts['READY']}, FAILED {counts['FAILED']}, lost {lost}, connection resets {resets}, "
        f"other errors {dict(tally.errors - Counter({'connection reset': resets}))}, "
        f"upload latency p50 {statistics.median(latencies) * 1000:.0f} ms "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"all uploads sent in {upload_s:.1f} s, all terminal after {terminal_s:.1f} s"
    )
    print(f"\n{figures}", flush=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\n[load] {figures}")

    # Then every upload was accepted, none was reset, and every accepted dataset is READY
    assert resets == 0, figures
    assert not tally.errors, figures
    assert len(tally.accepted) == UPLOADS, figures
    assert lost == 0, figures
    assert counts["READY"] == UPLOADS, figures
