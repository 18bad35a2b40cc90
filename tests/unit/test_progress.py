"""Progress of long commands: one updating line on a terminal, a line per change in a log."""

from __future__ import annotations

import io

from csvprof.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_log_a_line_is_written_only_when_the_status_changes() -> None:
    log = io.StringIO()
    progress = Progress(log)
    for status, elapsed in (("10%", 0.5), ("10%", 0.7), ("20%", 1.0)):
        progress.show(status, elapsed)
    progress.close()
    assert log.getvalue().splitlines() == ["10%            0.5 s", "20%            1.0 s"]


def test_on_a_terminal_one_line_updates_in_place_and_is_ended_once() -> None:
    screen = Terminal()
    progress = Progress(screen)
    progress.show("UPLOADED", 0.2)
    progress.show("PROCESSING", 1.2)
    progress.close()
    text = screen.getvalue()
    assert text.count("\r") == 2
    assert text.endswith("\n")
    assert text.count("\n") == 1
