"""What the handler modules share: the Lambda handler type and lazy construction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from csvprof.observability import Observability

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def lazy_handler(build: Callable[[], LambdaHandler]) -> LambdaHandler:
    """A handler built on its first call, so importing the module reads no env and makes no client."""
    built: list[LambdaHandler] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not built:
            built.append(build())
        return built[0](event, context)

    return handler


def instrumented(obs: Observability, handler: LambdaHandler) -> LambdaHandler:
    """The Powertools wrappers both functions share: context-aware logs, EMF flush, tracing."""
    traced = obs.tracer.capture_lambda_handler(handler)
    measured = obs.metrics.log_metrics(traced)
    return cast(LambdaHandler, obs.logger.inject_lambda_context(measured, clear_state=True))
