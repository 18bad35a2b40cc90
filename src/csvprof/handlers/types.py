"""What the handler modules share: the Lambda handler type and lazy construction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lazy_handler(build: Callable[[], LambdaHandler]) -> LambdaHandler:
    """A handler built on its first call, so importing the module reads no env and makes no client."""
    built: list[LambdaHandler] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not built:
            built.append(build())
        return built[0](event, context)

    return handler
