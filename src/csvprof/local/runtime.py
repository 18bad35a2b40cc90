"""LocalRuntime: the API behind a LocalGateway, the worker behind one poller per work queue, and
the reconciler on a schedule."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, Self

from csvprof.contracts.meta import Route
from csvprof.handlers.api import ROUTES as API_ROUTES
from csvprof.limits import API_TIMEOUT_S, WORKER_TIMEOUT_S
from csvprof.local.aliases import LocalAlias
from csvprof.local.emf import EmfForwarder, forwarding
from csvprof.local.gateway import Handler, LocalGateway
from csvprof.local.lifecycle import Service
from csvprof.local.poller import SqsPoller
from csvprof.local.schedule import ScheduledInvoker
from csvprof.local.stack import FAKE_CREDENTIALS

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

ROUTES: tuple[Route, ...] = ("blue", "green")
# The deployed schedule runs every 300 s; locally a repair should show within seconds.
LOCAL_RECONCILE_INTERVAL_S = 10.0
# UPLOADED for this long counts as stale in a local run (the deployed threshold is 600 s).
LOCAL_STALE_UPLOADED_S = 60.0
# The key pair the local API accepts: the embedded stack's fake credentials, which the
# test environment and `csvprof serve`'s users sign with.
LOCAL_API_CREDENTIALS = {FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]: FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


class WorkQueues(Protocol):
    """What the runtime needs from a stack: `EmbeddedStack`, or one deployed to LocalStack."""

    @property
    def region(self) -> str: ...

    @property
    def work_queue_urls(self) -> dict[Route, str]: ...

    def sqs(self) -> SQSClient: ...


class LocalRuntime(Service):
    """Starts the gateway, the blue and green pollers and the reconciler's schedule (when a
    reconciler handler is given); stops them in reverse order.

    Every API route uses AWS_IAM authorization, as deployed: requests must be SigV4-signed
    with a key pair in `api_credentials` (by default the embedded stack's fake key pair,
    `LOCAL_API_CREDENTIALS`), or the gateway answers 403.

    The worker runs one version per colour, as the `blue` and `green` aliases do:
    `worker_handlers` (and `worker_versions`, reported as the context's `function_version`),
    or one `worker_handler` serving both; `point()` repoints a colour at runtime.

    With `emf_forwarder`, the EMF metrics both handlers print are sent to CloudWatch as
    CloudWatch Logs would (see `csvprof.local.emf`); off by default.

    `api_handler` may be a `LocalAlias` (`csvprof.local.aliases`): the gateway then invokes the
    alias, which routes each request to a version by weight; each version gets its own
    sandbox and EMF capture, as separate versions run in separate execution environments.
    """

    def __init__(
        self,
        stack: WorkQueues,
        api_handler: Handler,
        worker_handler: Handler | None = None,
        *,
        worker_handlers: Mapping[Route, Handler] | None = None,
        worker_versions: Mapping[Route, str] | None = None,
        port: int = 0,
        api_timeout_s: float = API_TIMEOUT_S,
        worker_timeout_s: float = WORKER_TIMEOUT_S,
        emf_forwarder: EmfForwarder | None = None,
        api_routes: Sequence[str] | None = tuple(API_ROUTES),
        reconciler_handler: Handler | None = None,
        reconcile_interval_s: float = LOCAL_RECONCILE_INTERVAL_S,
        api_credentials: Mapping[str, str] | None = None,
    ) -> None:
        self._emf_forwarder = emf_forwarder
        # One sandbox per function (per version behind an alias): Lambda never runs two
        # invocations in one execution environment, and handler state (Powertools' current
        # event, the batch processor) relies on that.
        api_name = "csvprof-api"
        if isinstance(api_handler, LocalAlias):
            api_handler.wrap(self._sandbox)
            api_name = api_handler.function_name  # the context names the aliased function
        else:
            api_handler = self._sandbox(api_handler)
        self._worker_handlers = self._sandboxes(worker_handler, worker_handlers)
        self._worker_versions: dict[Route, str] = dict(worker_versions or {})
        if reconciler_handler is not None and emf_forwarder is not None:
            reconciler_handler = forwarding(reconciler_handler, emf_forwarder)
        self.stack = stack
        self.api_credentials = dict(api_credentials or LOCAL_API_CREDENTIALS)
        self.gateway = LocalGateway(
            api_handler,
            function_name=api_name,
            timeout_s=api_timeout_s,
            region=stack.region,
            port=port,
            routes=api_routes,
            credentials=self.api_credentials,
        )
        self.pollers: dict[Route, SqsPoller] = {}
        self._worker_timeout_s = worker_timeout_s
        self.schedule: ScheduledInvoker | None = None
        if reconciler_handler is not None:
            self.schedule = ScheduledInvoker(
                one_at_a_time(reconciler_handler), interval_s=reconcile_interval_s, region=stack.region
            )
        self._exit: ExitStack | None = None

    @property
    def api_url(self) -> str:
        return self.gateway.url

    def start(self) -> Self:
        if self._exit is not None:
            raise RuntimeError("runtime already started")
        with ExitStack() as exit_stack:
            # Pollers first, so nothing the API enqueues waits for a poller to appear.
            for route, url in self.stack.work_queue_urls.items():
                poller = SqsPoller(
                    self.stack.sqs(),
                    url,
                    self._worker_handlers[route],
                    function_name="csvprof-worker",
                    timeout_s=self._worker_timeout_s,
                    region=self.stack.region,
                    version=self._worker_versions.get(route, "$LATEST"),
                    qualifier=route,  # each queue's mapping invokes its colour's alias
                )
                self.pollers[route] = exit_stack.enter_context(poller)
            exit_stack.enter_context(self.gateway)
            if self.schedule is not None:
                exit_stack.enter_context(self.schedule)
            self._exit = exit_stack.pop_all()
        return self

    def _sandbox(self, handler: Handler) -> Handler:
        if self._emf_forwarder is not None:
            handler = forwarding(handler, self._emf_forwarder)
        return one_at_a_time(handler)

    def _sandboxes(
        self, shared: Handler | None, per_route: Mapping[Route, Handler] | None
    ) -> dict[Route, Handler]:
        """Each colour's worker: its own version, or one handler (one sandbox) serving both."""
        if per_route is None:
            if shared is None:
                raise TypeError("LocalRuntime needs worker_handler or worker_handlers")
            one = self._sandbox(shared)
            return dict.fromkeys(ROUTES, one)
        if shared is not None or set(per_route) != set(ROUTES):
            raise TypeError(f"worker_handlers needs exactly {ROUTES}, and no worker_handler")
        return {route: self._sandbox(handler) for route, handler in per_route.items()}

    def point(self, route: Route, handler: Handler, version: str) -> None:
        """UpdateAlias for the worker: `route`'s alias runs `handler` as `version` from its next
        invocation (one in progress finishes on the old version)."""
        self._worker_versions[route] = version
        self._worker_handlers[route] = sandbox = self._sandbox(handler)
        if route in self.pollers:
            self.pollers[route].point(sandbox, version)

    def worker_version(self, route: Route) -> str:
        return self._worker_versions.get(route, "$LATEST")

    def stop(self) -> None:
        exit_stack, self._exit = self._exit, None
        # Signal every poller first so their last long polls run out together, not in turn.
        for poller in self.pollers.values():
            poller.request_stop()
        if exit_stack is not None:
            exit_stack.close()


def one_at_a_time(handler: Handler) -> Handler:
    """The handler behind a lock: invocations run in turn, as in one Lambda sandbox.

    The context's deadline restarts once the invocation has the lock: Lambda's function
    timeout counts from when an invocation starts running, not from when it was queued.
    (The gateway also bounds the whole request by API Gateway's integration timeout.)
    """
    lock = threading.Lock()

    def invoke(event: dict[str, Any], context: Any) -> Any:
        with lock:
            start = getattr(context, "start", None)
            if callable(start):
                start()
            return handler(event, context)

    return invoke


@contextmanager
def patched_environ(values: Mapping[str, str], remove: tuple[str, ...] = ()) -> Iterator[None]:
    """Set `values` (and unset `remove`) in os.environ for the block, then restore it.

    For code that reads its target from the environment, as a deployed function does:
    the handlers' boto3 clients use the default credential chain, and pointing that chain
    at the fake credentials is what keeps a local run away from the user's real keys.
    """
    keys = set(values) | set(remove)
    saved: dict[str, Any] = {key: os.environ.get(key) for key in keys}
    try:
        for key in remove:
            os.environ.pop(key, None)
        os.environ.update(values)
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
