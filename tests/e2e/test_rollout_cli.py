"""`csvprof rollout status|worker` against the embedded moto server: the CLI's wiring of the
controller's adapters (SSM weight, SQS depths, CloudWatch alarms) with explicit resources."""

from __future__ import annotations

import pytest

from csvprof import cli
from csvprof.adapters.clients import ssm_client
from csvprof.local.runtime import patched_environ
from csvprof.local.stack import EmbeddedStack


@pytest.fixture
def parameter(stack: EmbeddedStack) -> str:
    name = f"/{stack.settings.bucket}/routing/green-weight-cli"
    ssm_client(stack.settings, stack.session).put_parameter(
        Name=name, Value="0", Type="String", Overwrite=True
    )
    return name


def rollout(stack: EmbeddedStack, *argv: str) -> int:
    urls = stack.work_queue_urls
    where = ["--blue-url", urls["blue"], "--green-url", urls["green"], "--endpoint-url", stack.endpoint_url]
    with patched_environ(stack.lambda_environment(), remove=EmbeddedStack.PROFILE_VARIABLES):
        return cli.main(["rollout", *argv, *where, "--region", stack.region])


def test_status_prints_the_weight_and_each_queue(
    stack: EmbeddedStack, parameter: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.sqs().send_message(QueueUrl=stack.work_queue_urls["green"], MessageBody="waiting")
    try:
        assert rollout(stack, "status", "--routing-parameter", parameter) == cli.EXIT_OK
    finally:
        stack.sqs().purge_queue(QueueUrl=stack.work_queue_urls["green"])
    out = capsys.readouterr().out
    assert "green weight: 0% of new datasets (blue 100%)" in out
    assert "blue  alias version ?; queue 0 visible" in out
    assert "green alias version ?;" in out


def test_worker_without_a_function_to_point_is_a_usage_error(
    stack: EmbeddedStack, parameter: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = rollout(stack, "worker", "--version", "2", "--routing-parameter", parameter)
    assert code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "worker function" in err


def test_worker_rejects_steps_that_do_not_rise(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rollout", "worker", "--version", "2", "--steps", "50,10", "--routing-parameter", "p"]
    assert cli.main([*argv, "--blue-url", "b", "--green-url", "g", "--function", "f"]) == cli.EXIT_USAGE
    assert "steps must rise" in capsys.readouterr().err
