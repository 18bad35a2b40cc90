"""Run schemathesis against contracts/openapi.yaml on a live local API (`tox -e schemathesis`).

Starts `csvprof serve` (the real API handler behind the SigV4-verifying local gateway, on the
embedded moto stack) in the background, waits until it prints its URL, runs `schemathesis run`
with every check against it, signing each request (tests/fuzz/hooks.py), then stops
the server. The exit code is schemathesis': non-zero on any failure. Extra arguments are
passed to `schemathesis run`.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 60.0
# The run's bounds: examples per operation and a time budget for the whole run (about a
# minute: CI time is shared); a fixed seed so a failure reproduces.
MAX_EXAMPLES = "50"
MAX_TIME_S = "60"
SEED = "0"
_URL = re.compile(r"csvprof local API: (?P<url>http://\S+)")


def _wait_for_url(server: subprocess.Popen[str]) -> str:
    """The URL `csvprof serve` prints once its gateway is listening; its output is echoed."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            raise SystemExit(f"csvprof serve exited ({server.wait()}) before it was ready")
        print(line, end="", flush=True)
        found = _URL.search(line)
        if found:
            return found["url"]
    raise SystemExit(f"csvprof serve printed no URL within {READY_TIMEOUT_S:.0f} s")


def main(extra: list[str]) -> int:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    server = subprocess.Popen(
        [str(BIN / "csvprof"), "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the handlers' JSON logs: thousands of lines
        text=True,
    )
    try:
        url = _wait_for_url(server)
        command = [
            str(BIN / "schemathesis"),
            f"--config-file={ROOT / 'tests' / 'fuzz' / 'schemathesis.toml'}",
            "run",
            str(ROOT / "contracts" / "openapi.yaml"),
            f"--url={url}",
            "--checks=all",
            f"--max-examples={MAX_EXAMPLES}",
            f"--max-time={MAX_TIME_S}",
            f"--seed={SEED}",
            "--generation-database=none",
            "--no-color",
            *extra,
        ]
        print("$", " ".join(command), flush=True)
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    finally:
        server.send_signal(signal.SIGTERM)  # csvprof serve stops cleanly on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
