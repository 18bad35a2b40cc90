"""The worker's aliases in the local runtime: `AliasPointer` over `LocalRuntime.point`.

Lambda's UpdateAlias names a published version; locally a version is a handler built in the
process, so the releases the pointer may choose from are given up front, by version.
"""

from __future__ import annotations

from collections.abc import Mapping

from csvprof.contracts.meta import Route
from csvprof.local.gateway import Handler
from csvprof.local.runtime import LocalRuntime


class LocalWorkerAliases:
    def __init__(self, runtime: LocalRuntime, releases: Mapping[str, Handler]) -> None:
        self._runtime = runtime
        self._releases = dict(releases)
        self.pointed: list[tuple[Route, str]] = []  # every repoint, in order

    def version(self, route: Route) -> str:
        return self._runtime.worker_version(route)

    def point(self, route: Route, version: str) -> None:
        if version not in self._releases:
            raise KeyError(f"no local release of the worker is version {version!r}")
        self._runtime.point(route, self._releases[version], version)
        self.pointed.append((route, version))
