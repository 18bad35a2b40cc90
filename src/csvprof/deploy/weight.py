"""The green weight's one writer: the rollout tooling sets the SSM routing parameter.

The API reads the weight from `/<Name>/routing/green-weight` (cached 60 s), so a rollout step
is one `PutParameter`. The messaging stack creates the parameter with its initial value and
never writes it again (see `csvprof.deploy.order`), so nothing resets a weight set here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from csvprof.deploy.outputs import MessagingOutput, Stack, stack_name
from csvprof.deploy.stacks import Deployer, DeployError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


def routing_parameter(deployer: Deployer, name: str) -> str:
    """The routing parameter's name, from the messaging stack's outputs."""
    outputs = deployer.outputs(stack_name(name, Stack.MESSAGING))
    return outputs[MessagingOutput.ROUTING_PARAMETER_NAME.value]


def read_weight(ssm: SSMClient, parameter: str) -> int:
    return int(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])


def set_weight(ssm: SSMClient, parameter: str, weight: int) -> int:
    """Write the live weight (percent of new datasets routed to green); returns the previous one."""
    if not 0 <= weight <= 100:
        raise DeployError(f"green weight {weight}: expected 0 to 100 (percent of new datasets)")
    previous = read_weight(ssm, parameter)
    ssm.put_parameter(Name=parameter, Value=str(weight), Type="String", Overwrite=True)
    return previous


class SsmWeight:
    """The rollout controller's weight store (`WeightStore`): this module's reader and writer,
    uncached, so each step reads what it wrote."""

    def __init__(self, ssm: SSMClient, parameter: str) -> None:
        self._ssm = ssm
        self._parameter = parameter

    def get(self) -> int:
        return read_weight(self._ssm, self._parameter)

    def set(self, weight: int) -> None:
        set_weight(self._ssm, self._parameter, weight)
