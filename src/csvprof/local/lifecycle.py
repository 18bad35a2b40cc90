"""Start/stop services of the local runtime, usable as context managers."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Service:
    """Subclasses implement start() and stop(); `with` calls them, stop() even on errors."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
