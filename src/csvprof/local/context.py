"""A Lambda context object with the attributes and methods the Python runtime provides."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account


@dataclass
class LambdaContext:
    """What `awslambdaric` passes as `context`; Powertools reads the same attributes.

    `memory_limit_in_mb` is a string because the real runtime copies it from the
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE environment variable: code that does arithmetic
    on it must convert it, and should fail locally if it does not.
    """

    function_name: str
    memory_limit_in_mb: str
    timeout_s: float
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    function_version: str = "$LATEST"
    # The alias or version the caller named; None for an unqualified invoke (runs $LATEST).
    qualifier: str | None = None
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    identity: Any = None
    client_context: Any = None
    # Monotonic, so a wall-clock jump cannot make the function look out of time.
    _deadline: float = field(init=False, repr=False)
    log_stream_name: str = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        day = time.strftime("%Y/%m/%d", time.gmtime())
        self.log_stream_name = f"{day}/[{self.function_version}]{uuid.uuid4().hex}"

    @property
    def invoked_function_arn(self) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"
        return f"{arn}:{self.qualifier}" if self.qualifier else arn

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def start(self) -> None:
        """The invocation got its sandbox and runs now: Lambda's timeout counts from here, not
        from when the request arrived (time queued for a sandbox is not the function's)."""
        self._deadline = time.monotonic() + self.timeout_s

    @property
    def deadline(self) -> float:
        """When the function times out, on the time.monotonic() clock."""
        return self._deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def new_context(
    function_name: str,
    *,
    memory_mb: int,
    timeout_s: float,
    region: str,
    version: str = "$LATEST",
    qualifier: str | None = None,
) -> LambdaContext:
    """A fresh context per invocation: new request id, deadline counting from now."""
    return LambdaContext(
        function_name=function_name,
        memory_limit_in_mb=str(memory_mb),
        timeout_s=timeout_s,
        region=region,
        function_version=version,
        qualifier=qualifier,
    )
