"""The worker function, invoked once in this process: `python -m tests.perf.worker_run OUT.json < EVENT.json`.

The perf-5g test runs it in the Lambda-shaped cgroup (tests/perf/cgroup.py), with the
function's environment (`Settings.to_env()`, AWS_ENDPOINT_URL at the emulator). As Lambda
does, it first initialises the function (`make_handler(Settings.from_env())`: clients, the
engine, `tune_process()`), then invokes the handler with the SQS event read from stdin and a
context whose remaining time starts at the function's timeout. The handler logs and prints its
EMF metrics on stdout, so the result goes to OUT.json: {"seconds", "remaining_s", "answer",
"workers", "rss_file_mb"}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from csvprof.config import Settings
from csvprof.handlers.worker import make_handler
from csvprof.limits import WORKER_MEMORY_MB, WORKER_TIMEOUT_S
from csvprof.local.context import new_context
from csvprof.profiler.engine import available_cpus
from tests.perf.probe import status_mb

FUNCTION_NAME = "csvprof-worker-perf"


def main(out: Path) -> None:
    event = json.load(sys.stdin)
    settings = Settings.from_env()
    handler = make_handler(settings)
    context = new_context(
        FUNCTION_NAME, memory_mb=WORKER_MEMORY_MB, timeout_s=WORKER_TIMEOUT_S, region=settings.region
    )
    started = time.perf_counter()
    answer = handler(event, context)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "remaining_s": context.get_remaining_time_in_millis() / 1000,
        "answer": answer,
        "workers": available_cpus(),  # what ArrowProfileEngine() takes by default
        "rss_file_mb": status_mb("RssFile"),
    }
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
