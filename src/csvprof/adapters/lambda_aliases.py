"""Lambda adapter: the worker function's `blue` and `green` aliases (GetAlias, UpdateAlias)."""

from __future__ import annotations

from typing import Any

from csvprof.contracts.meta import Route


class LambdaAliases:
    """Each colour is the worker function's alias of that name; pointing one is UpdateAlias.

    The client is untyped: the project's boto3 stubs do not include Lambda.
    """

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._lambda = lambda_client
        self._function = function_name

    def version(self, route: Route) -> str:
        return str(self._lambda.get_alias(FunctionName=self._function, Name=route)["FunctionVersion"])

    def point(self, route: Route, version: str) -> None:
        self._lambda.update_alias(FunctionName=self._function, Name=route, FunctionVersion=version)
