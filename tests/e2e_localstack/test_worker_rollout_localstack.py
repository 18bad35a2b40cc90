"""A worker rollout that goes wrong, end to end: the controller rolls back, nothing is lost.

Real in LocalStack: the routing parameter (SSM), the work queues and the DLQ (SQS), the
`worker-failures-green` alarm (CloudWatch, fed by the handlers' EMF through the forwarder), the bus
(EventBridge) and the stacks that made them. In the local runtime: the API and two worker versions,
version 1 on blue, version 2 (an engine that raises) rolled out to green by the controller
(`csvprof.domain.rollout` with the SSM, CloudWatch and SQS adapters, the runtime's aliases).

Uploads arrive all along. The weight moves new datasets to green; green fails, retries and parks
them; `worker-failures-green` fires; the controller sets the weight back to 0 and, once green's
queue has drained, points green back at version 1; `csvprof redrive` moves the parked messages to
blue. Every dataset ends READY with exactly one terminal event.

The stacks are this module's own, in an AWS account of their own (LocalStack keys accounts by the
access key id), so no other test's workers or metrics (the alarm's metric has no deployment
dimension) reach this episode's queues or alarm.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import pytest
from localstack_client.session import Session

from csvprof import cli
from csvprof.adapters.cloudwatch import CloudWatchAlarms
from csvprof.adapters.sqs import SqsQueueDepths
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.meta import Route
from csvprof.contracts.profile import Profile
from csvprof.deploy.outputs import Stack, alarm_name, stack_name
from csvprof.deploy.rollout import MonotonicClock, colour_alarms
from csvprof.deploy.stacks import Deployer
from csvprof.deploy.target import DeployedStack
from csvprof.deploy.weight import SsmWeight
from csvprof.domain.ports import Budget
from csvprof.domain.rollout import Observation, Outcome, Rollout, RolloutPlan
from csvprof.domain.routing import choose_route
from csvprof.handlers import api, worker
from csvprof.local.emf import EmfForwarder
from csvprof.local.runtime import LocalRuntime, patched_environ
from csvprof.local.worker_aliases import LocalWorkerAliases
from csvprof.profiler import ArrowProfileEngine
from tests.e2e_localstack.alarms import record
from tests.e2e_localstack.aws import REGION, LocalStack
from tests.e2e_localstack.conftest import ROOT, bus_events_queue, teardown
from tests.support.http import HttpApi, wait_for

PERIOD_S = 10  # the worker-failures alarms' period (deployed default: 60 s)
PARAMETERS: dict[Stack, dict[str, str]] = {
    Stack.STORAGE: {"RawRetentionDays": "1"},
    Stack.MESSAGING: {"VisibilityTimeoutSeconds": "10", "GreenWeight": "0"},
    Stack.OBSERVABILITY: {
        "ApiId": "localstack-no-api",
        "LogRetentionDays": "1",
        "WorkerFailuresBluePeriodSeconds": str(PERIOD_S),
        "WorkerFailuresGreenPeriodSeconds": str(PERIOD_S),
    },
}
# Scaled down from 300 s bakes and 10 s polls: an alarm needs one or two 10 s periods to show.
PLAN = RolloutPlan("2", steps=(10, 50, 100), bake_s=20, poll_s=2, drain_timeout_s=60)
# Version 2 profiles this many datasets, then every profile raises: a bug that shows once warm
# (a leak, a cache), so the first step usually bakes clean and the alarm comes at 10 % or 50 %.
HEALTHY_FOR = 4
UPLOAD_INTERVAL_S = 0.4  # 2.5 uploads per second, all episode long
CSV = b"id,amount,city\n1,9.5,Oslo\n2,3.25,Lima\n3,7.0,Pune\n"


@pytest.fixture(scope="module")
def account(localstack: LocalStack) -> LocalStack:
    """LocalStack as a fresh AWS account: a 12-digit access key id names the account."""
    key = "".join(random.choice("0123456789") for _ in range(12))
    session = Session(
        aws_access_key_id=key,
        aws_secret_access_key="test",  # noqa: S106 - LocalStack's fake secret
        localstack_host=localstack.localstack_host,
        region_name=REGION,
    )
    return LocalStack(session, localstack.localstack_host)


@pytest.fixture(scope="module")
def stacks(account: LocalStack) -> Iterator[DeployedStack]:
    deployer = Deployer(account.cloudformation(), poll_interval_s=0.5, timeout_s=120)
    name = f"csvprof-ro-{uuid.uuid4().hex[:8]}"
    target = DeployedStack(name, account.boto3_session(), endpoint_url=account.endpoint_url)
    created: list[Stack] = []
    try:
        for stack in PARAMETERS:
            created.append(stack)
            started = time.monotonic()
            deployer.deploy(
                stack_name(name, stack),
                ROOT / "infra" / "cloudformation" / f"{stack}.yaml",
                {"Name": name, **PARAMETERS[stack]},
            )
            record(f"[rollout] {stack_name(name, stack)} deployed in {time.monotonic() - started:.1f} s")
        target.load(tuple(PARAMETERS))
        yield target
    finally:
        teardown(account, target, deployer, created)


@pytest.fixture(scope="module")
def events(account: LocalStack, stacks: DeployedStack) -> Iterator[str]:
    """A queue behind a rule on the episode's bus: every terminal event the workers publish."""
    with bus_events_queue(account, stacks, "events") as url:
        yield url


@dataclass
class RaisingEngine:
    """Version 2's bug: after HEALTHY_FOR profiles every one raises RuntimeError (not the file's
    fault, so the delivery is retried, then parked)."""

    good: ArrowProfileEngine
    profiled: int = 0
    failures: list[float] = field(default_factory=list)  # wall-clock times

    def profile(
        self, source: BinaryIO, *, size: int | None, budget: Budget, dataset_id: DatasetId | None = None
    ) -> Profile:
        if self.profiled < HEALTHY_FOR:  # one sandbox: invocations never overlap
            self.profiled += 1
            return self.good.profile(source, size=size, budget=budget, dataset_id=dataset_id)
        self.failures.append(time.time())
        raise RuntimeError("version 2 cannot profile anything")


@dataclass
class Uploader:
    """Uploads a small CSV every UPLOAD_INTERVAL_S on its own thread; notes each id and time."""

    http: HttpApi
    uploads: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, dataset id)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="uploader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            answer = self.http.upload(CSV, name="episode.csv")
            if answer.status == 202:
                self.uploads.append((time.monotonic(), answer.json()["dataset_id"]))
            else:
                self.errors.append(f"{answer.status} {answer.body[:200]!r}")
            self._stop.wait(UPLOAD_INTERVAL_S)  # the upload rate, not a synchronisation

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


def worker_version(settings: Any, session: Any, engine: Any) -> Any:
    use_case = replace(worker.build_worker(settings, session), engine=engine)
    return worker.make_handler(settings, session, worker=use_case)


def share_interval(weight: int, n: int) -> tuple[float, float]:
    """Where the green share of n random ids may fall at `weight` (±4.5 standard deviations)."""
    p = weight / 100
    spread = 4.5 * math.sqrt(p * (1 - p) / n)
    return max(0.0, p - spread), min(1.0, p + spread)


def terminal_events(account: LocalStack, url: str, seen: dict[str, list[str]]) -> None:
    sqs = account.sqs()
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = answer.get("Messages", [])
        if not messages:
            return
        for message in messages:
            event = json.loads(message["Body"])
            seen.setdefault(event["detail"]["dataset_id"], []).append(event["detail-type"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_failing_green_version_is_rolled_back_and_every_dataset_completes(
    account: LocalStack, stacks: DeployedStack, events: str, capsys: pytest.CaptureFixture[str]
) -> None:
    session = account.boto3_session()
    # The API re-reads the weight every second (deployed: 60 s); retries come after 1 s and 4 s
    # (deployed: 30 s, 120 s).
    settings = replace(stacks.settings(), routing_cache_s=1, retry_base_delay_s=1)
    broken = RaisingEngine(ArrowProfileEngine(workers=1))
    good_blue = worker_version(settings, session, ArrowProfileEngine(workers=1))
    good_green = worker_version(settings, session, ArrowProfileEngine(workers=1))
    bad = worker_version(settings, session, broken)
    forwarder = EmfForwarder(account.cloudwatch())
    sqs = account.sqs()
    steps: list[Observation] = []
    moments: dict[str, float] = {}  # wall-clock times: the alarm's transition, the rollback
    alarm = alarm_name(stacks.name, "worker-failures-green")

    def on_step(seen: Observation) -> None:
        steps.append(seen)
        record(f"[rollout] {seen.line()}")
        if seen.phase == "rollback":
            moments["rollback"] = time.time()
            described = account.cloudwatch().describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
            moments["alarm"] = described["StateUpdatedTimestamp"].timestamp()

    with LocalRuntime(
        stacks,
        api.make_handler(settings, session),
        worker_handlers={"blue": good_blue, "green": good_green},
        worker_versions={"blue": "1", "green": "1"},
        emf_forwarder=forwarder,
    ) as runtime:
        aliases = LocalWorkerAliases(runtime, {"1": good_green, "2": bad})
        weights = SsmWeight(account.ssm(), settings.routing_parameter or "")
        controller = Rollout(
            weights=weights,
            alarms=CloudWatchAlarms(account.cloudwatch(), colour_alarms(stacks.name)),
            queues=SqsQueueDepths(sqs, stacks.work_queue_urls),
            aliases=aliases,
            clock=MonotonicClock(),
            on_step=on_step,
        )
        uploader = Uploader(HttpApi(runtime.api_url))
        uploader.start()
        try:
            time.sleep(3)  # some uploads at weight 0 first: all of them blue
            began = time.monotonic()
            report = controller.run(PLAN)

            # The controller rolled back and, once green drained, pointed it back at version 1.
            assert report.outcome is Outcome.ROLLED_BACK, [s.line() for s in report.steps]
            assert report.failed_share in (10, 50)
            assert weights.get() == 0
            assert report.restored
            assert aliases.pointed == [("green", "2"), ("green", "1")]
            assert runtime.worker_version("green") == "1"
            assert broken.failures, "green's version 2 ran and failed"

            # The parked datasets wait in the DLQ; redrive sends them to the live colour (blue).
            parked_count = dlq_depth(account, stacks)
            with patched_environ(
                {"AWS_ACCESS_KEY_ID": account.session.aws_access_key_id, "AWS_SECRET_ACCESS_KEY": "test"}
            ):
                argv = ["redrive", "--stack", stacks.name, "--endpoint-url", account.endpoint_url]
                assert cli.main([*argv, "--region", REGION]) == cli.EXIT_OK
                redrive_out = capsys.readouterr().out
                assert cli.main(["rollout", "status", *argv[1:], "--region", REGION]) == cli.EXIT_OK
                status_out = capsys.readouterr().out
            for line in own_lines(redrive_out + status_out):
                record(f"[rollout] {line}")
            assert "green weight: 0%" in status_out
            time.sleep(3)  # uploads keep arriving after the redrive too
        finally:
            uploader.stop()
        assert not uploader.errors, uploader.errors[:3]

        # Every dataset of the episode ends READY with exactly one terminal event: none lost, none twice.
        ids = [dataset_id for _, dataset_id in uploader.uploads]
        assert len(ids) == len(set(ids))
        http = HttpApi(runtime.api_url)
        metas = {dataset_id: http.wait_terminal(dataset_id, timeout_s=90) for dataset_id in ids}
        seen: dict[str, list[str]] = {}

        def all_announced() -> bool:
            terminal_events(account, events, seen)
            return all(dataset_id in seen for dataset_id in ids)

        wait_for(all_announced, 60, interval_s=0.5, what="a terminal event for every dataset")
        terminal_events(account, events, seen)  # and nothing more after them

    not_ready = {i: m["status"] for i, m in metas.items() if m["status"] != "READY"}
    assert not_ready == {}
    assert {i: e for i, e in seen.items() if e != ["Dataset Profiled"] and i in metas} == {}
    lost = len([i for i in ids if i not in seen])
    assert lost == 0
    # Version 2 either profiled a dataset before its bug showed, or failed it and version 1
    # (blue, after the redrive) finished it.
    versions = {i: [(c["route"], c["version"]) for c in m["claims"]] for i, m in metas.items()}
    ready_on_2 = [i for i, v in versions.items() if v == [("green", "2")]]
    redriven = [i for i, v in versions.items() if ("green", "2") in v and v[-1] != ("green", "2")]
    assert all(v[-1][1] == "1" for i, v in versions.items() if i not in ready_on_2), versions
    assert all(metas[i]["attempts"] > 1 for i in redriven)
    assert len(ready_on_2) <= HEALTHY_FOR
    assert redriven, "version 2 failed some datasets"

    # The weight in force at each upload (the API may still hold the previous one for a second).
    changes = [(s.at_s + began, s.weight) for s in steps]
    figures = shares(uploader.uploads, metas, changes)
    for line in figures:
        record(f"[rollout] {line}")

    first_failure = min(broken.failures)
    record(
        f"[rollout] episode: {len(ids)} datasets uploaded ({len(ready_on_2)} profiled by version 2 before "
        f"its bug showed); alarm at the {report.failed_share}% step, "
        f"{moments['alarm'] - first_failure:.1f} s after green's first failure, weight back to 0 "
        f"{moments['rollback'] - first_failure:.1f} s after it; the DLQ held {parked_count}, "
        f"{len(redriven)} redriven and completed READY; lost {lost}, duplicated 0"
    )


def own_lines(out: str) -> list[str]:
    """The CLI's lines in captured stdout, without the runtime's handler logs (JSON lines)."""
    return [line for line in out.splitlines() if line.strip() and not line.startswith("{")]


def dlq_depth(account: LocalStack, stacks: DeployedStack) -> int:
    attributes = account.sqs().get_queue_attributes(
        QueueUrl=stacks.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def shares(
    uploads: list[tuple[float, str]], metas: dict[str, dict[str, Any]], changes: list[tuple[float, int]]
) -> list[str]:
    """Per weight: the uploads made while it was in force, and the share of them routed green.

    Each route is checked exactly (the policy is deterministic per id) against the weights around
    the upload (the API's one-second cache, and a step observed just after it was set); the share is
    checked against binomial bounds on the uploads made 1.5 s or more after the weight changed."""
    transitions = [(-math.inf, 0)]
    for at, weight in changes:
        if weight != transitions[-1][1]:
            transitions.append((at, weight))
    by_weight: dict[int, list[Route]] = {}
    for at, dataset_id in uploads:
        index = max(i for i, (t, _) in enumerate(transitions) if t <= at)
        around = {w for _, w in transitions[max(index - 1, 0) : index + 2]}
        route = metas[dataset_id]["route"]
        assert route in {choose_route(dataset_id, w) for w in around}, (dataset_id, around)
        since, weight = transitions[index]
        if at - since >= 1.5 and (index + 1 == len(transitions) or transitions[index + 1][0] - at >= 0.5):
            by_weight.setdefault(weight, []).append(route)
    lines = []
    for weight, routes in sorted(by_weight.items()):
        share = routes.count("green") / len(routes)
        low, high = share_interval(weight, len(routes))
        lines.append(
            f"weight {weight:3d}: {len(routes)} uploads, {share:.0%} green (bounds {low:.0%}-{high:.0%})"
        )
        assert low <= share <= high, lines[-1]
    return lines
