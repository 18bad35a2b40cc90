"""SSM adapter: the routing parameter (the live weight for green)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SSMProvider

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# A rollout step reaches every warm API instance within a minute, at one SSM call per
# instance per minute.
MAX_AGE_S = 60


class SsmGreenWeight:
    """Reads the green weight from an SSM parameter through Powertools' cached provider."""

    def __init__(self, ssm: SSMClient, name: str, max_age_s: int = MAX_AGE_S) -> None:
        self._provider = SSMProvider(boto3_client=ssm)
        self._name = name
        self._max_age_s = max_age_s

    def __call__(self) -> int:
        raw = self._provider.get(self._name, max_age=self._max_age_s)
        weight = int(str(raw).strip())
        if not 0 <= weight <= 100:
            raise ValueError(f"{self._name} holds {weight}; a green weight is 0-100")
        return weight
