"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`).

No playwright, no websocket client: Chromium reads commands on fd 3 and writes answers and events
on fd 4, each a JSON message ended by a NUL byte. Enough of the protocol to open a page, wait for
its load event, evaluate an expression, capture a screenshot, and collect what the console and the
browser's log said. Plus a small PNG decoder (zlib and numpy) to look at the screenshot's pixels.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

TIMEOUT_S = 60.0


def find_chromium() -> str | None:
    exe = os.environ.get("CSVPROF_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return exe if exe and os.access(exe, os.X_OK) else None


class Chromium:
    """One headless browser and one page in it."""

    def __init__(self, exe: str, width: int = 1280, height: int = 1000) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds() -> None:  # in the child: our pipe ends as its fd 3 (commands) and fd 4 (answers)
            a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [
                exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--no-first-run", "--no-default-browser-check", "--remote-debugging-pipe",
                f"--window-size={width},{height}", "about:blank",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            close_fds=False, preexec_fn=fds,
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    # --- the protocol ------------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A command to the page."""
        return self.send(method, params, self.session)

    def wait_for(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited: {self.stderr()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    # --- what a test does --------------------------------------------------------------------

    def open(self, url: str) -> float:
        """Navigate and wait for the load event; the seconds it took, as this process saw it."""
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        started = time.monotonic()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")
        return time.monotonic() - started

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(png)
        return png

    def console(self) -> list[str]:
        """What the page said on its console, its uncaught exceptions, and the browser's log
        entries of level warning or error (a refused script or load is one)."""
        said = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                said.append(f"console.{params.get('type')}: {args}")
            elif method == "Runtime.exceptionThrown":
                said.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("warning", "error"):
                said.append(f"log {params['entry']['level']}: {params['entry']['text']}")
        return said

    def stderr(self) -> str:
        return "" if self.proc.stderr is None else self.proc.stderr.read1(65536).decode(errors="replace")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing anyway
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


# --- PNG ---------------------------------------------------------------------------------------


def decode_png(png: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The pixels (height, width, channels) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            chunks.append(data)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8, depth
    assert color in (2, 6), color
    assert interlace == 0
    bpp = 3 if color == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(chunks)), np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), np.uint8)
    prior = np.zeros(stride, np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + prior) & 255
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0).reshape(stride) & 255
        else:  # Average, Paeth: each byte depends on the one before
            row = np.zeros(stride, np.int32)
            for x in range(stride):
                left = int(row[x - bpp]) if x >= bpp else 0
                up = int(prior[x])
                if kind == 3:
                    row[x] = (line[x] + (left + up) // 2) & 255
                else:
                    up_left = int(prior[x - bpp]) if x >= bpp else 0
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                    row[x] = (line[x] + pred) & 255
        out[y] = row
        prior = row
    return out.reshape(height, width, bpp)
