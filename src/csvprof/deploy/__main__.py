"""`python -m csvprof.deploy`: build the Lambda package and deploy the stacks in order.

    python -m csvprof.deploy package [--out dist/csvprof-lambda.zip]
    python -m csvprof.deploy deploy --name csvprof-prod --artifact-bucket my-artifacts
        [--region eu-west-1] [--endpoint-url http://127.0.0.1:4566]
        [--stacks storage,messaging,observability,compute,api]
        [--parameter observability.ProfilesFailedThreshold=10 ...]
        [--artifact dist/csvprof-lambda.zip] [--no-termination-protection]
    python -m csvprof.deploy weight --name csvprof-prod [--set 10]
    python -m csvprof.deploy outputs --name csvprof-prod
    python -m csvprof.deploy delete --name csvprof-test [--stacks ...]

A deploy sets only what it is given (and what the stacks' order needs): every other parameter
keeps its deployed value. Credentials come from the default chain (environment, profile, SSO,
instance role); only --endpoint-url changes for an emulator. See README.md, "Deploying".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from csvprof.adapters.clients import client_config
from csvprof.deploy.order import deploy_stacks
from csvprof.deploy.outputs import DEPLOY_ORDER, Stack, stack_name
from csvprof.deploy.package import PLATFORM, PYTHON_VERSION, Artifact, PackageError, build, digest
from csvprof.deploy.stacks import Deployer, DeployError, require_bucket
from csvprof.deploy.weight import read_weight, routing_parameter, set_weight
from csvprof.progress import Progress

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def parse_parameters(items: Sequence[str]) -> dict[Stack, dict[str, str]]:
    """`stack.Key=Value` items -> {stack: {Key: Value}}."""
    result: dict[Stack, dict[str, str]] = {stack: {} for stack in Stack}
    for item in items:
        target, sep, value = item.partition("=")
        stack, dot, key = target.partition(".")
        if not sep or not dot or stack not in {s.value for s in Stack} or not key:
            raise DeployError(
                f"--parameter {item!r}: expected STACK.Key=Value with STACK one of {[s.value for s in Stack]}"
            )
        result[Stack(stack)][key] = value
    return result


def parse_stacks(text: str) -> tuple[Stack, ...]:
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = wanted - {s.value for s in Stack}
    if unknown:
        raise DeployError(f"--stacks: unknown {sorted(unknown)}; choose from {[s.value for s in Stack]}")
    return tuple(s for s in DEPLOY_ORDER if s.value in wanted)


def _session(args: argparse.Namespace) -> boto3.Session:
    return boto3.Session(region_name=args.region) if args.region else boto3.Session()


def _client_config(args: argparse.Namespace) -> Config:
    return client_config(args.region, args.endpoint_url)


def _artifact(args: argparse.Namespace) -> Artifact:
    if args.artifact:
        path = Path(args.artifact)
        if not path.is_file():
            raise DeployError(f"--artifact {path} does not exist")
        sha_hex, sha_b64 = digest(path)
        return Artifact(path, path.stat().st_size, -1, sha_hex, sha_b64)
    with tempfile.TemporaryDirectory() as work:
        out = PROJECT_ROOT / "dist" / "csvprof-lambda.zip"
        print(f"building the Lambda package ({PLATFORM}, python {PYTHON_VERSION}) ...")
        artifact = build(PROJECT_ROOT, out, work_dir=Path(work))
    print(artifact.describe())
    return artifact


def cmd_package(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as work:
        artifact = build(PROJECT_ROOT, Path(args.out), work_dir=Path(work))
    print(artifact.describe())
    print(f"sha256 {artifact.sha256_hex}")
    return 0


def _logger(progress: Progress) -> Callable[[str], None]:
    """The deployer's own lines, after ending an open progress line on the terminal."""

    def log(line: str) -> None:
        progress.close()
        print(line)

    return log


def cmd_deploy(args: argparse.Namespace) -> int:
    session = _session(args)
    config = _client_config(args)
    cfn = session.client("cloudformation", endpoint_url=args.endpoint_url, config=config)
    progress = Progress(sys.stderr)
    deployer = Deployer(
        cfn,
        tags={"project": "csvprof", "deployment": args.name},
        progress=progress.show,
        log=_logger(progress),
    )
    stacks = parse_stacks(args.stacks)
    parameters = parse_parameters(args.parameter)

    if Stack.COMPUTE in stacks:
        s3 = session.client("s3", endpoint_url=args.endpoint_url, config=config)
        require_bucket(s3, args.artifact_bucket)  # fail before spending minutes on a build
        artifact = _artifact(args)
        s3.upload_file(str(artifact.path), args.artifact_bucket, artifact.key)
        print(f"uploaded s3://{args.artifact_bucket}/{artifact.key}")
        parameters[Stack.COMPUTE].update(
            ArtifactBucket=args.artifact_bucket, ArtifactKey=artifact.key, ArtifactSha256=artifact.sha256_b64
        )

    results = deploy_stacks(
        deployer, args.name, stacks, parameters, termination_protection=not args.no_termination_protection
    )
    print_outputs({result.stack_name: result.outputs for result in results})
    return 0


def cmd_weight(args: argparse.Namespace) -> int:
    """Print the live green weight, or set it (a rollout step)."""
    session = _session(args)
    config = _client_config(args)
    cfn = session.client("cloudformation", endpoint_url=args.endpoint_url, config=config)
    ssm = session.client("ssm", endpoint_url=args.endpoint_url, config=config)
    parameter = routing_parameter(Deployer(cfn), args.name)
    if args.set is None:
        print(f"{parameter} = {read_weight(ssm, parameter)}")
        return 0
    previous = set_weight(ssm, parameter, args.set)
    print(f"{parameter}: {previous} -> {args.set} (every API instance within 60 s)")
    return 0


def cmd_outputs(args: argparse.Namespace) -> int:
    cfn = _session(args).client("cloudformation", endpoint_url=args.endpoint_url, config=_client_config(args))
    deployer = Deployer(cfn)
    print_outputs(
        {
            stack_name(args.name, s): deployer.outputs(stack_name(args.name, s))
            for s in parse_stacks(args.stacks)
        }
    )
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete the stacks in reverse order (the retained bucket stays; termination protection blocks)."""
    cfn = _session(args).client("cloudformation", endpoint_url=args.endpoint_url, config=_client_config(args))
    deployer = Deployer(cfn)
    for stack in reversed(parse_stacks(args.stacks)):
        name = stack_name(args.name, stack)
        print(f"{name}: deleting")
        deployer.delete(name)
    return 0


def print_outputs(outputs: dict[str, dict[str, str]]) -> None:
    for name, values in outputs.items():
        print(f"\n{name}")
        for key, value in sorted(values.items()):
            print(f"  {key:32} {value}")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m csvprof.deploy", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)

    package = commands.add_parser("package", help="build the Lambda zip and report its size")
    package.add_argument("--out", default=str(PROJECT_ROOT / "dist" / "csvprof-lambda.zip"))
    package.set_defaults(run=cmd_package)

    all_stacks = ",".join(s.value for s in DEPLOY_ORDER)
    for name, run, help_text in (
        ("deploy", cmd_deploy, "deploy the stacks in order through change sets"),
        ("weight", cmd_weight, "print or set the live green weight (the SSM routing parameter)"),
        ("outputs", cmd_outputs, "print the deployed stacks' outputs"),
        ("delete", cmd_delete, "delete the stacks in reverse order (test deployments)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--name", required=True, help="deployment name, e.g. csvprof-prod")
        command.add_argument("--region", help="AWS region (default: the SDK's)")
        command.add_argument("--endpoint-url", help="an emulator, e.g. http://127.0.0.1:4566 (LocalStack)")
        command.add_argument("--stacks", default=all_stacks, help=f"comma-separated subset of {all_stacks}")
        command.set_defaults(run=run)
        if name == "weight":
            command.add_argument("--set", type=int, metavar="PERCENT", help="new weight, 0-100")
        if name == "deploy":
            command.add_argument("--artifact-bucket", help="bucket for the Lambda zip (needed with compute)")
            command.add_argument("--artifact", help="use this zip instead of building one")
            command.add_argument("--parameter", action="append", default=[], metavar="STACK.Key=Value")
            command.add_argument(
                "--no-termination-protection",
                action="store_true",
                help="leave the stateful stacks unprotected (test deployments)",
            )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "deploy" and Stack.COMPUTE.value in args.stacks and not args.artifact_bucket:
        print("error: --artifact-bucket is required to deploy the compute stack", file=sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except (DeployError, PackageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:
        print(f"error: AWS call failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
