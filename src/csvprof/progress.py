"""Progress of a long command (upload, profile, wait, deploy) on stderr.

On a terminal one line updates in place; elsewhere (a CI log, a pipe) a line is written only
when the status changes, so logs stay short and scripts see nothing on stdout.
"""

from __future__ import annotations

from typing import IO


class Progress:
    """Status and elapsed time: one updating line on a terminal, a line per change otherwise."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = ""
        self.open_line = False

    def show(self, status: str, elapsed_s: float) -> None:
        line = f"{status:<10} {elapsed_s:7.1f} s"
        if self.tty:
            self.stream.write(f"\r{line}")
            self.open_line = True
        elif status != self.last:
            self.stream.write(line + "\n")
        self.last = status
        self.stream.flush()

    def close(self) -> None:
        if self.open_line:
            self.stream.write("\n")
            self.stream.flush()
