"""Deploy failures are plain against a real CloudFormation API (LocalStack), and leave nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from csvprof.deploy.stacks import Deployer, DeployError, require_bucket
from tests.e2e_localstack.aws import LocalStack

# A queue SQS refuses at create time: FIFO queues need a name ending in ".fifo".
FAILING = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: csvprof-not-fifo-{suffix}
      FifoQueue: true
"""
UNRESOLVED = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref NoSuchParameter
"""


@pytest.fixture
def stack_name(deployer: Deployer) -> Iterator[str]:
    name = f"csvprof-fail-{uuid.uuid4().hex[:8]}"
    yield name
    deployer.delete(name)
    assert deployer.describe(name) is None


def test_a_template_error_is_reported_and_leaves_no_stack(deployer: Deployer, stack_name: str) -> None:
    with pytest.raises(DeployError, match=r"NoSuchParameter"):
        deployer.deploy(stack_name, UNRESOLVED, {})
    stack = deployer.describe(stack_name)
    assert stack is None or stack["StackStatus"] in ("REVIEW_IN_PROGRESS", "DELETE_IN_PROGRESS")


def test_a_failed_create_names_the_resource_and_the_retry_says_delete(
    deployer: Deployer, stack_name: str
) -> None:
    template = FAILING.format(suffix=uuid.uuid4().hex[:8])
    with pytest.raises(DeployError, match=r"ended \w+_FAILED|ended ROLLBACK") as failed:
        deployer.deploy(stack_name, template, {})
    assert "Queue (AWS::SQS::Queue)" in str(failed.value)
    with pytest.raises(DeployError, match=r"delete it .*delete-stack --stack-name " + stack_name):
        deployer.deploy(stack_name, template, {})


def test_a_missing_artifacts_bucket_is_named(localstack: LocalStack) -> None:
    s3 = localstack.s3()
    with pytest.raises(DeployError, match="does not exist; create it"):
        require_bucket(s3, f"csvprof-no-such-bucket-{uuid.uuid4().hex[:8]}")
