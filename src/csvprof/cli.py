"""`csvprof` command line: run a file through the embedded local stack, or keep the stack up.

The CLI is a client of the HTTP API like any other: it uploads through the local
API Gateway, polls the dataset and reads the profile over HTTP, every request SigV4-signed
(`csvprof.client`) with the key pair the local gateway accepts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from botocore.credentials import Credentials

from csvprof.client import CsvProfApiError, CsvProfClient
from csvprof.contracts.keys import DATASET_ID_PATTERN
from csvprof.progress import Progress

# `csvprof generate --shape`: csvprof.local.testdata.SHAPES's names (a test keeps them equal), named here so
# the parser does not import numpy and pyarrow.
SHAPES = ("mixed", "narrow", "wide", "text", "timestamps", "sparse", "dirty")

if TYPE_CHECKING:
    from csvprof.local.runtime import LocalRuntime

if TYPE_CHECKING:
    from csvprof.adapters.sqs import SqsDeadLetterQueue
    from csvprof.contracts.meta import Route
    from csvprof.deploy.rollout import Controls as RolloutControls

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_FAILED = 2
# `csvprof diff` exits 0/1/2 for its verdict (none/warn/fail), so its usage errors need another code.
EXIT_DIFF_USAGE = 3
# Polling interval for GET /datasets/{id}: progress stays lively without flooding the log.
POLL_INTERVAL_S = 0.25
HTTP_TIMEOUT_S = 60


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["deploy"]:
        # The deploy tool parses its own sub-commands and options (including --help).
        from csvprof.deploy.__main__ import main as deploy_main

        return deploy_main(argv[1:])
    args = _parser().parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.func
    try:
        return command(args)
    except CsvProfApiError as exc:
        return _error(f"the API answered {exc}")
    except BrokenPipeError:
        # The reader went away (`csvprof profile f.csv | head`): no traceback, and none at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as exc:  # a file the command reads or writes
        return _error(_os_error(exc))
    except KeyboardInterrupt:
        return 130


def _error(message: str, code: int = EXIT_USAGE) -> int:
    """Every CLI error: one line on stderr, and a non-zero exit code."""
    print(f"csvprof: {message}", file=sys.stderr)
    return code


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return f"{where}{exc.strerror or exc}"


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line on stderr (the usage is one `--help` away)."""

    usage_exit = EXIT_USAGE

    def error(self, message: str) -> NoReturn:
        self.exit(self.usage_exit, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="csvprof", description="Profile CSV files with csvprof.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="profile a file through the embedded local stack (moto)")
    run.add_argument("file", type=Path, help="the CSV file")
    run.add_argument("--out", type=Path, default=Path("profile.json"), help="where to write the profile JSON")
    run.add_argument("--green-weight", type=_weight, default=0, help="share of datasets routed green, 0-100")
    run.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for READY or FAILED")
    run.set_defaults(func=_cmd_run)

    serve = sub.add_parser(
        "serve",
        help="keep the embedded local stack up until Ctrl-C (in memory: every dataset is gone when it stops)",
        description=(
            "Keep the embedded local stack up until Ctrl-C: the real API and worker handlers on moto, "
            "behind a local API Gateway that verifies SigV4 (it prints the key pair and region to sign "
            "with). The local store lives in memory (moto): every dataset, meta and profile is gone "
            "when the process ends, however it ends."
        ),
    )
    serve.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    serve.add_argument(
        "--green-weight", type=_weight, default=0, help="share of datasets routed green, 0-100"
    )
    serve.set_defaults(func=_cmd_serve)

    profile = sub.add_parser("profile", help="run only the profiling engine on a local file (no stack)")
    profile.add_argument("file", type=Path, help="the CSV file")
    profile.add_argument("--out", type=Path, default=Path("profile.json"), help="where to write the profile")
    profile.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (threads where fork is unsafe); default: usable cores",
    )
    profile.set_defaults(func=_cmd_profile)

    # Listed for --help only: main() hands `deploy ...` to csvprof.deploy before parsing.
    sub.add_parser("deploy", help="package the Lambda code and deploy the CloudFormation stacks")

    redrive = sub.add_parser("redrive", help="move the DLQ's messages back to a work queue, once fixed")
    where = redrive.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", metavar="NAME", help="a deployment: its queues from its stack outputs")
    where.add_argument("--dlq-url", help="the DLQ (with --blue-url and --green-url)")
    redrive.add_argument("--blue-url", help="the blue work queue (with --dlq-url)")
    redrive.add_argument("--green-url", help="the green work queue (with --dlq-url)")
    redrive.add_argument(
        "--to", choices=("blue", "green"), help="the queue to move to (default with --stack: the live colour)"
    )
    redrive.add_argument("--max", type=int, default=None, metavar="N", help="move at most N messages")
    redrive.add_argument("--dry-run", action="store_true", help="only count the DLQ's messages")
    redrive.add_argument("--endpoint-url", default=None, help="an emulator's endpoint (moto, LocalStack)")
    redrive.add_argument("--region", default=None, help="the AWS region (default: the SDK's)")
    redrive.set_defaults(func=_cmd_redrive)

    _rollout_parser(sub)

    generate = sub.add_parser("generate", help="write a seeded, realistic CSV of one shape for benchmarks")
    generate.add_argument("out", type=Path, help="where to write the CSV")
    generate.add_argument("--size", type=_size, default=50_000_000, help="target size, e.g. 50MB, 1GB")
    generate.add_argument(
        "--shape", choices=SHAPES, default="mixed", help="the file's shape (csvprof.local.testdata.SHAPES)"
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.set_defaults(func=_cmd_generate)

    _diff_parser(sub)
    _client_parsers(sub)
    report = sub.add_parser("report", help="render a local profile.json as one self-contained HTML page")
    report.add_argument("file", type=Path, help="the profile.json (from `csvprof profile` or the API)")
    report.add_argument("-o", "--out", type=Path, default=Path("report.html"), help="where to write the page")
    report.set_defaults(func=report_file)
    return parser


def _rollout_parser(sub: Any) -> None:
    rollout = sub.add_parser(
        "rollout", help="roll a worker version out to blue/green, or show where it stands"
    )
    commands = rollout.add_subparsers(dest="rollout_command", required=True, parser_class=_Parser)
    worker = commands.add_parser(
        "worker",
        help="the new version onto the idle colour, its share 10 -> 50 -> 100 %% while its alarms stay quiet",
    )
    worker.add_argument("--version", required=True, help="the worker function version to roll out")
    worker.add_argument(
        "--steps", type=_steps, default=(10, 50, 100), help="shares in percent (default 10,50,100)"
    )
    worker.add_argument("--bake-seconds", type=float, default=300.0, help="watch each step this long")
    worker.add_argument("--poll-seconds", type=float, default=10.0, help="read the alarms this often")
    worker.add_argument(
        "--drain-timeout", type=float, default=900.0, help="wait at most this long for a queue to drain"
    )
    status = commands.add_parser("status", help="the weight, each alias's version, each queue's depth")
    for command in (worker, status):
        where = command.add_mutually_exclusive_group(required=True)
        where.add_argument("--stack", metavar="NAME", help="a deployment: everything from its stack outputs")
        where.add_argument("--routing-parameter", help="the weight's SSM parameter (with the options below)")
        command.add_argument("--blue-url", help="the blue work queue (with --routing-parameter)")
        command.add_argument("--green-url", help="the green work queue (with --routing-parameter)")
        command.add_argument("--function", help="the worker function, whose blue/green aliases are pointed")
        command.add_argument(
            "--alarm-prefix", metavar="NAME", help="the deployment name in the alarms' names"
        )
        command.add_argument("--endpoint-url", default=None, help="an emulator's endpoint (LocalStack)")
        command.add_argument("--region", default=None, help="the AWS region (default: the SDK's)")
        command.set_defaults(func=_cmd_rollout)


def _steps(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected percentages like 10,50,100") from None


def _size(value: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "B": 1}
    text = value.strip().upper()
    for unit, factor in sorted(units.items(), key=lambda kv: -len(kv[0])):
        if text.endswith(unit):
            return int(float(text.removesuffix(unit)) * factor)
    return int(text)


def _weight(value: str) -> int:
    weight = int(value)
    if not 0 <= weight <= 100:
        raise argparse.ArgumentTypeError("must be 0-100")
    return weight


# --- commands ----------------------------------------------------------------------------


def _cmd_profile(args: argparse.Namespace) -> int:
    from csvprof.errors import ProfilingError
    from csvprof.profiler import ArrowProfileEngine, default_budget, peak_rss_mb, tune_process

    source = _input_file(args)
    if source is None or not _writable(args.out):
        return EXIT_USAGE
    tune_process()  # this process profiles: the engine's allocator settings, once
    size = source.stat().st_size
    engine = ArrowProfileEngine() if args.workers is None else ArrowProfileEngine(workers=args.workers)
    started = time.monotonic()
    progress = Progress(sys.stderr)

    def on_bytes(done: int) -> None:
        # Steps of 10 %: one updating line on a terminal, ten lines in a log.
        progress.show(f"{10 * (10 * done // max(size, 1))}%", time.monotonic() - started)

    budget = replace(default_budget(), progress=on_bytes)
    try:
        with source.open("rb") as stream:
            profile = engine.profile(stream, size=size, budget=budget).to_dict()
    except ProfilingError as exc:
        progress.close()
        print(f"FAILED {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    progress.close()
    elapsed = time.monotonic() - started
    args.out.write_text(json.dumps(profile, indent=2) + "\n")
    print(format_summary(profile))
    print(f"profile written to {args.out}")
    rate = size / 1e6 / max(elapsed, 1e-9)
    # The engine's own samples count its worker processes too; this process's peak does not.
    peak = max(peak_rss_mb(), profile["runtime"]["peak_rss_mb"])
    print(f"{size / 1e6:,.1f} MB in {elapsed:.2f} s ({rate:,.1f} MB/s), peak RSS {peak:,.0f} MB")
    return EXIT_OK


def _input_file(args: argparse.Namespace) -> Path | None:
    source: Path = args.file
    if source.is_file():
        return source
    _error(f"{source}: no such file")
    return None


def _cmd_redrive(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from csvprof.domain.redrive import Redrive

    if args.max is not None and args.max < 1:
        print("csvprof: --max must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        dlq, route = _dead_letters(args)
        report = Redrive(dlq).run(route, limit=args.max, dry_run=args.dry_run)
    except (BotoCoreError, ClientError, RedriveUsage) as exc:
        print(f"csvprof: redrive: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, RedriveUsage) else EXIT_FAILED
    if report.dry_run:
        print(f"DLQ: {report.waiting} message(s) waiting; would move them to {report.to} (dry run)")
    elif report.by_task:
        print(f"DLQ: {report.waiting} message(s) waiting; SQS is moving them all to {report.to}")
    else:
        print(f"DLQ: {report.waiting} message(s) waiting; moved {report.moved} to {report.to}")
    return EXIT_OK


def _cmd_rollout(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from csvprof.deploy.rollout import print_step
    from csvprof.deploy.stacks import DeployError
    from csvprof.domain.rollout import Outcome, RolloutPlan

    try:
        controls = _rollout_controls(args)
        if args.rollout_command == "status":
            print("\n".join(controls.status().lines()))
            return EXIT_OK
        plan = RolloutPlan(args.version, args.steps, args.bake_seconds, args.poll_seconds, args.drain_timeout)
        report = controls.rollout(on_step=print_step).run(plan)
    except (BotoCoreError, ClientError, DeployError, RolloutUsage, ValueError) as exc:
        print(f"csvprof: rollout: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, (RolloutUsage, ValueError)) else EXIT_FAILED
    print(f"rollout of version {plan.version} on {report.colour}: {report.outcome}")
    return EXIT_OK if report.outcome is Outcome.PROMOTED else EXIT_FAILED


def _rollout_controls(args: argparse.Namespace) -> RolloutControls:
    """The controller's ports, from --stack or the resources named one by one."""
    import boto3

    from csvprof.deploy.rollout import Controls, RolloutTarget, colour_alarms
    from csvprof.deploy.target import DeployedStack

    session = boto3.Session(region_name=args.region)
    if args.stack:
        target = RolloutTarget.of_stack(DeployedStack(args.stack, session, args.endpoint_url))
    elif args.blue_url and args.green_url:
        alarms = colour_alarms(args.alarm_prefix) if args.alarm_prefix else {"blue": [], "green": []}
        urls: dict[Route, str] = {"blue": args.blue_url, "green": args.green_url}
        target = RolloutTarget(args.routing_parameter, urls, alarms, args.function)
    else:
        raise RolloutUsage("--routing-parameter needs --blue-url and --green-url")
    return Controls(session, target, args.endpoint_url)


class RolloutUsage(Exception):
    """Options that name no weight or no queues."""


class RedriveUsage(Exception):
    """Options that name no queue or no colour."""


def _dead_letters(args: argparse.Namespace) -> tuple[SqsDeadLetterQueue, Route]:
    """The DLQ adapter and the colour to move to, from --stack or explicit queue URLs."""
    import boto3

    from csvprof.adapters.clients import client_config
    from csvprof.adapters.sqs import SqsDeadLetterQueue
    from csvprof.domain.redrive import live_route

    session = boto3.Session(region_name=args.region)
    if args.stack:
        from csvprof.adapters.ssm import SsmGreenWeight
        from csvprof.deploy.outputs import MessagingOutput, Stack
        from csvprof.deploy.target import DeployedStack

        deployed = DeployedStack(args.stack, session, args.endpoint_url)
        deployed.load((Stack.MESSAGING,))
        route: Route | None = args.to
        if route is None:
            parameter = deployed.output(Stack.MESSAGING, MessagingOutput.ROUTING_PARAMETER_NAME)
            route = live_route(SsmGreenWeight(deployed.ssm(), parameter)())
        return SqsDeadLetterQueue(deployed.sqs(), deployed.dlq_url, deployed.work_queue_urls), route
    if not (args.blue_url and args.green_url):
        raise RedriveUsage("--dlq-url needs --blue-url and --green-url")
    if args.to is None:
        raise RedriveUsage("--to blue|green is needed with queue URLs (there is no weight to read)")
    config = client_config(session.region_name, args.endpoint_url)
    sqs = session.client("sqs", endpoint_url=args.endpoint_url, config=config)
    urls: dict[Route, str] = {"blue": args.blue_url, "green": args.green_url}
    return SqsDeadLetterQueue(sqs, args.dlq_url, urls), args.to


def _writable(out: Path) -> bool:
    """Whether `out` can be written, said on stderr when not: checked before any work,
    so a wrong --out does not cost a whole profile."""
    folder = out.parent
    problem = None
    if not folder.is_dir():
        problem = f"{folder}: no such folder" if not folder.exists() else f"{folder}: not a folder"
    elif out.is_dir():
        problem = f"{out}: is a folder"
    elif out.exists() and not os.access(out, os.W_OK):
        problem = f"{out}: not writable"
    else:
        try:  # the one sure test (permissions, read-only mounts, root): create a file there
            with tempfile.TemporaryFile(dir=folder, prefix=".csvprof-"):
                pass
        except OSError as exc:
            problem = f"{folder}: not writable ({exc.strerror or exc})"
    if problem is not None:
        _error(f"cannot write {out}: {problem}")
    return problem is None


def _cmd_generate(args: argparse.Namespace) -> int:
    from csvprof.local.testdata import write_csv

    if not _writable(args.out):
        return EXIT_USAGE

    rows = write_csv(args.out, args.size, seed=args.seed, shape=args.shape)
    print(f"wrote {args.out}: {rows:,} rows, {args.out.stat().st_size:,} bytes")
    return EXIT_OK


def report_file(args: argparse.Namespace) -> int:
    """`csvprof report FILE.json -o report.html`: a local profile as the report the worker stores."""
    from csvprof.contracts.profile import Profile
    from csvprof.report import render

    source: Path = args.file
    if not source.is_file():
        if _looks_like_dataset_id(str(source)):
            return _error(
                f"{source} is a dataset id, not a file; fetch its report with `csvprof get-report ID`"
            )
        return _error(f"{source}: no such file")
    if not _writable(args.out):
        return EXIT_USAGE
    try:
        profile = Profile.from_dict(json.loads(source.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        return _error(f"{source}: not a profile.json ({type(exc).__name__}: {exc})")
    started = time.monotonic()
    page = render(profile)
    args.out.write_text(page, encoding="utf-8")
    took_ms = (time.monotonic() - started) * 1000
    print(
        f"report written to {args.out}: {len(profile.columns):,} columns, "
        f"{len(page.encode()):,} bytes in {took_ms:.0f} ms"
    )
    return EXIT_OK


def _looks_like_dataset_id(value: str) -> bool:
    return re.fullmatch(DATASET_ID_PATTERN, value) is not None


def _cmd_run(args: argparse.Namespace) -> int:
    source = _input_file(args)
    if source is None or not _writable(args.out):
        return EXIT_USAGE
    started = time.monotonic()
    with _local_runtime(green_weight=args.green_weight) as runtime, _client(runtime) as client:
        accepted = client.upload_file(source)
        dataset_id = accepted["dataset_id"]
        print(f"dataset {dataset_id} accepted ({source.stat().st_size:,} bytes)", file=sys.stderr)
        meta = _wait_terminal(client, dataset_id, started, args.timeout)
        if meta["status"] != "READY":
            print(format_failure(meta), file=sys.stderr)
            _print_footer(started)
            return EXIT_FAILED
        profile = client.profile(dataset_id)
    args.out.write_text(json.dumps(profile, indent=2) + "\n")
    print(format_summary(profile))
    print(f"profile written to {args.out}")
    _print_footer(started)
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    with _local_runtime(green_weight=args.green_weight, port=args.port, quiet_handlers=False) as runtime:
        api_url = runtime.api_url
        region = runtime.gateway.region
        key, secret = next(iter(runtime.api_credentials.items()))
        print(f"csvprof local API: {api_url}")
        print(f"  every route needs SigV4 (AWS_IAM): key {key}, secret {secret}, region {region}")
        sign = f'--aws-sigv4 "aws:amz:{region}:execute-api" --user {key}:{secret}'
        upload = f"{api_url}/datasets?name=data.csv"
        print(f"  curl -sS {sign} -H 'content-type: text/csv' --data-binary @data.csv '{upload}'")
        print(f"  curl -sS {sign} {api_url}/datasets/<dataset_id>")
        print("The store lives in memory (moto): every dataset is gone when this process ends.")
        print("Ctrl-C to stop.", flush=True)
        # SIGTERM (a container stop, a supervisor) shuts down as cleanly as Ctrl-C.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _local_runtime(
    *, green_weight: int, port: int = 0, quiet_handlers: bool = True
) -> Iterator[LocalRuntime]:
    """EmbeddedStack + LocalRuntime with the real handlers, started."""
    # Imported here: the stack needs moto (the `local` extra); `csvprof profile` does not.
    from csvprof.handlers import api, reconciler, worker
    from csvprof.local.runtime import LOCAL_STALE_UPLOADED_S, LocalRuntime, patched_environ
    from csvprof.local.stack import EmbeddedStack

    with EmbeddedStack(green_weight=green_weight) as stack:
        env = stack.lambda_environment()
        if quiet_handlers:
            # Keep stdout for the summary: handler logs at WARNING, no EMF metric lines.
            env |= {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
            # Powertools warns on every GET that published no metric: noise for a CLI user.
            warnings.filterwarnings("ignore", message="No application metrics to publish")
        with patched_environ(env, remove=EmbeddedStack.PROFILE_VARIABLES):
            settings = stack.settings
            runtime = LocalRuntime(
                stack,
                api.make_handler(settings, stack.session),
                worker.make_handler(settings, stack.session),
                port=port,
                reconciler_handler=reconciler.make_handler(
                    replace(settings, stale_uploaded_after_s=LOCAL_STALE_UPLOADED_S), stack.session
                ),
            )
            with runtime:
                yield runtime


@contextmanager
def _client(runtime: LocalRuntime) -> Iterator[CsvProfClient]:
    """A client signing with the key pair the runtime's gateway accepts."""
    key, secret = next(iter(runtime.api_credentials.items()))
    with CsvProfClient(
        runtime.api_url,
        credentials=Credentials(key, secret),
        region=runtime.gateway.region,
        timeout_s=HTTP_TIMEOUT_S,
    ) as client:
        yield client


def _wait_terminal(
    client: CsvProfClient, dataset_id: str, started: float, timeout_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    progress = Progress(sys.stderr)
    try:
        while True:
            meta = client.meta(dataset_id)
            status = str(meta.get("status"))
            progress.show(status, time.monotonic() - started)
            if status in ("READY", "FAILED"):
                return meta
            if time.monotonic() > deadline:
                raise SystemExit(f"csvprof: gave up after {timeout_s:.0f} s; dataset is {status}")
            time.sleep(POLL_INTERVAL_S)  # the poll interval of a client, not synchronisation
    finally:
        progress.close()


def _print_footer(started: float) -> None:
    print(f"peak RSS {peak_rss_mb():.1f} MiB, elapsed {time.monotonic() - started:.2f} s")


# --- diff --------------------------------------------------------------------------------


def _diff_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    from csvprof.diff import Thresholds

    defaults = Thresholds()
    diff = sub.add_parser(
        "diff",
        help="drift between two profiles, for CI: exit 0 none, 1 warn, 2 fail (3 usage error)",
        description=(
            "Compare NEW.json with the accepted OLD.json: columns added, removed, retyped or reordered, "
            "null-rate and distinct-count changes, distribution shift of numeric columns (PSI, a KS bound) "
            "and new top values. Exit code: 0 no drift, 1 warn, 2 fail (with --fail-on warn, any warning "
            "exits 2), 3 usage or input error. Give 'off' to a threshold to turn it off."
        ),
    )
    diff.usage_exit = EXIT_DIFF_USAGE
    diff.add_argument("old", type=Path, help="the baseline profile (profile.json)")
    diff.add_argument("new", type=Path, help="the profile to check")
    diff.add_argument("--json", action="store_true", help="the diff as JSON (profile-diff.schema.json)")
    diff.add_argument(
        "--fail-on",
        choices=("warn", "fail"),
        default="fail",
        help="the lowest verdict that exits 2 (default: fail; warn makes a warning exit 2)",
    )
    for name, what in (
        ("psi", "Population Stability Index"),
        ("null-rate", "absolute change of the null rate"),
        ("distinct", "relative change of the distinct count"),
        ("ks", "KS statistic bound"),
    ):
        for level in ("warn", "fail"):
            default = getattr(defaults, f"{name.replace('-', '_')}_{level}")
            diff.add_argument(
                f"--{name}-{level}",
                type=_threshold,
                default=default,
                metavar="X",
                help=f"{what} that makes a {level} (default: {'off' if default is None else default})",
            )
    diff.add_argument(
        "--new-top-share",
        type=_threshold,
        default=defaults.new_top_share,
        metavar="X",
        help=f"share of NEW's values a new top value needs to warn (default: {defaults.new_top_share})",
    )
    diff.set_defaults(func=_cmd_diff)


def _threshold(value: str) -> float | None:
    if value.lower() == "off":
        return None
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError("must be ≥ 0 (or off)")
    return number


def _cmd_diff(args: argparse.Namespace) -> int:
    from csvprof.contracts.profile import Profile
    from csvprof.diff import Severity, Thresholds, compare, render_text

    try:
        limits = Thresholds(
            **{
                f"{kind}_{level}": getattr(args, f"{kind}_{level}")
                for kind in ("psi", "null_rate", "distinct", "ks")
                for level in ("warn", "fail")
            },
            new_top_share=args.new_top_share,
        )
        old, new = (Profile.from_dict(_read_profile(path)) for path in (args.old, args.new))
    except OSError as exc:
        return _error(_os_error(exc), EXIT_DIFF_USAGE)
    except (ValueError, KeyError, TypeError) as exc:
        return _error(f"diff: {str(exc).splitlines()[0] if str(exc) else exc!r}", EXIT_DIFF_USAGE)
    diff = compare(old, new, limits)
    print(json.dumps(diff.to_dict(), indent=2) if args.json else render_text(diff))
    if diff.verdict is Severity.NONE:
        return EXIT_OK
    if diff.verdict is Severity.FAIL or args.fail_on == "warn":
        return EXIT_FAILED
    return EXIT_USAGE  # 1: a warning (diff's verdict codes are 0/1/2)


def _read_profile(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(body, dict) or "columns" not in body or "dataset" not in body:
        raise ValueError(f"{path}: not a csvprof profile")
    return body


# --- the API's client --------------------------------------------------------------------


def _client_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
    common = _Parser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument(
        "--api", metavar="URL", help="the API's URL (default: $CSVPROF_API_URL; `csvprof serve` prints one)"
    )
    where.add_argument(
        "--stack", metavar="NAME", help="a deployment: the API URL from its api stack's outputs"
    )
    common.add_argument("--region", default=None, help="the region to sign for (default: the SDK's)")
    common.add_argument(
        "--endpoint-url", default=None, help="with --stack: an emulator's endpoint for CloudFormation"
    )
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    waiting = _Parser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="wait until READY or FAILED (FAILED exits 2)")
    waiting.add_argument("--timeout", type=float, default=900.0, help="seconds --wait waits (default 900)")

    upload = sub.add_parser("upload", parents=[common, waiting], help="upload a CSV to the API")
    upload.add_argument("file", type=Path, help="the CSV file (presigned upload past 4 MiB)")
    upload.add_argument("--name", default=None, help="the dataset's name (default: the file's name)")
    upload.set_defaults(func=_cmd_upload)

    status = sub.add_parser("status", parents=[common, waiting], help="a dataset's status")
    status.add_argument("dataset_id", metavar="ID")
    status.set_defaults(func=_cmd_status)

    get = sub.add_parser("get", parents=[common], help="a dataset's profile")
    get.add_argument("dataset_id", metavar="ID")
    get.add_argument("--out", type=Path, default=None, help="write the profile JSON there")
    get.set_defaults(func=_cmd_get)

    listing = sub.add_parser("list", parents=[common], help="the datasets, newest pages first")
    listing.add_argument(
        "--limit", type=_positive, default=20, help="at most this many datasets (default 20)"
    )
    listing.set_defaults(func=_cmd_list)

    report = sub.add_parser(
        "get-report", parents=[common], help="a presigned link to a dataset's HTML report"
    )
    report.add_argument("dataset_id", metavar="ID")
    report.set_defaults(func=_cmd_get_report)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


class ClientUsage(Exception):
    """No API to talk to, or none found."""


def _api_client(args: argparse.Namespace) -> CsvProfClient:
    """A client for --api, --stack or $CSVPROF_API_URL, signing with the standard credential chain."""
    url = args.api or (None if args.stack else os.environ.get("CSVPROF_API_URL"))
    if args.stack:
        url = _stack_api_url(args.stack, args.region, args.endpoint_url)
    if not url:
        raise ClientUsage("no API: give --api URL or --stack NAME (or set CSVPROF_API_URL)")
    try:
        return CsvProfClient(url, region=args.region, timeout_s=HTTP_TIMEOUT_S)
    except ValueError as exc:
        raise ClientUsage(str(exc)) from None


def _stack_api_url(name: str, region: str | None, endpoint_url: str | None) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from csvprof.deploy.outputs import ApiOutput, Stack
    from csvprof.deploy.target import DeployedStack

    deployed = DeployedStack(name, boto3.Session(region_name=region), endpoint_url)
    try:
        deployed.load((Stack.API,))
    except (BotoCoreError, ClientError) as exc:
        raise ClientUsage(f"stack {name}: {str(exc).splitlines()[0]}") from None
    url = deployed.outputs[Stack.API].get(ApiOutput.API_URL.value)
    if not url:
        raise ClientUsage(f"stack {name}: its api stack has no {ApiOutput.API_URL.value} output")
    return url


def _with_api(
    command: Callable[[CsvProfClient, argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """A client command: its client, and a one-line error for no API or no connection
    (an error answer is `CsvProfApiError`, handled by main with its registry code)."""
    from urllib3.exceptions import HTTPError

    def run(args: argparse.Namespace) -> int:
        try:
            with _api_client(args) as client:
                return command(client, args)
        except ClientUsage as exc:
            return _error(str(exc))
        except HTTPError as exc:
            return _error(f"cannot reach the API: {str(exc).splitlines()[0]}")

    return run


def _print_json(body: Any) -> None:
    print(json.dumps(body, indent=2))


def _upload(client: CsvProfClient, args: argparse.Namespace) -> int:
    source = _input_file(args)
    if source is None:
        return EXIT_USAGE
    size = source.stat().st_size
    started = time.monotonic()
    progress = Progress(sys.stderr)

    def on_bytes(done: int) -> None:
        progress.show(f"{10 * (10 * done // max(size, 1))}%", time.monotonic() - started)

    try:
        accepted = client.upload_file(source, args.name, progress=on_bytes)
    finally:
        progress.close()
    dataset_id = str(accepted["dataset_id"])
    print(f"dataset {dataset_id} accepted ({size:,} bytes)", file=sys.stderr)
    if args.wait:
        return _finish(client, dataset_id, args, started)
    _print_json(accepted) if args.json else print(dataset_id)
    return EXIT_OK


def _status(client: CsvProfClient, args: argparse.Namespace) -> int:
    if args.wait:
        return _finish(client, args.dataset_id, args, time.monotonic())
    return _report_meta(client.meta(args.dataset_id), args)


def _finish(client: CsvProfClient, dataset_id: str, args: argparse.Namespace, started: float) -> int:
    return _report_meta(_wait_terminal(client, dataset_id, started, args.timeout), args)


def _report_meta(meta: dict[str, Any], args: argparse.Namespace) -> int:
    """The meta on stdout (`ID STATUS`, or JSON); FAILED also as one line on stderr, and exit 2."""
    _print_json(meta) if args.json else print(f"{meta['dataset_id']} {meta['status']}")
    if meta["status"] == "FAILED":
        print(format_failure(meta), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _get(client: CsvProfClient, args: argparse.Namespace) -> int:
    if args.out is not None and not _writable(args.out):
        return EXIT_USAGE
    profile = client.profile(args.dataset_id)
    if args.out is not None:
        args.out.write_text(json.dumps(profile, indent=2) + "\n")
        print(f"profile written to {args.out}", file=sys.stderr)
    _print_json(profile) if args.json else print(format_summary(profile))
    return EXIT_OK


def _list(client: CsvProfClient, args: argparse.Namespace) -> int:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while len(items) < args.limit:
        page = client.list(limit=min(args.limit - len(items), 100), token=token)
        items += page["items"]
        token = page.get("next_token")
        if not token:
            break
    if args.json:
        _print_json({"items": items, "next_token": token})
        return EXIT_OK
    rows = [["dataset_id", "status", "name", "bytes", "created_at"]]
    rows += [
        [
            m["dataset_id"],
            m["status"],
            _cell(m.get("name"), 32),
            f"{m.get('source_bytes') or 0:,}",
            m["created_at"],
        ]
        for m in items
    ]
    print(format_table(rows))
    if token:
        print(f"(more: --limit {args.limit + 100})", file=sys.stderr)
    return EXIT_OK


def _get_report(client: CsvProfClient, args: argparse.Namespace) -> int:
    # GET /datasets/{id}/report answers a presigned link to profiles/{id}/report.html.
    answer = client.request("GET", f"/datasets/{quote(args.dataset_id, safe='')}/report")
    if answer.status >= 400:
        raise CsvProfApiError.from_response(answer)
    body = answer.json()
    url = body.get("url") if isinstance(body, dict) else None
    if args.json or not isinstance(url, str):
        _print_json(body)
    else:
        print(url)
    return EXIT_OK


_cmd_upload = _with_api(_upload)
_cmd_status = _with_api(_status)
_cmd_get = _with_api(_get)
_cmd_list = _with_api(_list)
_cmd_get_report = _with_api(_get_report)


# --- formatting --------------------------------------------------------------------------


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def summary_rows(profile: dict[str, Any]) -> list[list[str]]:
    rows = [["column", "type", "nulls", "distinct", "min", "max", "top value"]]
    for column in profile.get("columns", []):
        nulls = int(column.get("null_count") or 0) + int(column.get("empty_count") or 0)
        distinct = (column.get("distinct") or {}).get("estimate")
        top_values = column.get("top_values") or []
        top = f"{_cell(top_values[0].get('value'))} ({top_values[0].get('count')})" if top_values else ""
        rows.append(
            [
                _cell(column.get("name")),
                _cell(column.get("inferred_type")),
                f"{nulls:,}",
                "" if distinct is None else f"{distinct:,}",
                _cell(column.get("min")),
                _cell(column.get("max")),
                top,
            ]
        )
    return rows


def format_summary(profile: dict[str, Any]) -> str:
    dataset = profile.get("dataset") or {}
    rows, columns = dataset.get("rows"), dataset.get("columns")
    header = f"{rows if rows is None else format(rows, ',')} rows x {columns} columns"
    return header + "\n" + format_table(summary_rows(profile))


def format_failure(meta: dict[str, Any]) -> str:
    error = meta.get("error") or {}
    return f"FAILED {error.get('code', 'UNKNOWN')}: {error.get('message', '')}"


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: Any, width: int = 24) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    raise SystemExit(main())
