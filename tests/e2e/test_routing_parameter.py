"""The live green weight: the API reads the routing parameter from SSM (moto server here)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from csvprof.adapters.clients import ssm_client
from csvprof.adapters.ssm import SsmGreenWeight
from csvprof.contracts import keys
from csvprof.handlers import api, worker
from csvprof.local.stack import EmbeddedStack
from tests.conftest import EXAMPLES
from tests.support.pipeline import Pipeline


def test_the_weight_follows_the_parameter_without_a_restart(stack: EmbeddedStack) -> None:
    ssm = ssm_client(stack.settings, stack.session)
    name = f"/{stack.settings.bucket}/routing/green-weight"
    ssm.put_parameter(Name=name, Value="100", Type="String")
    weight = SsmGreenWeight(ssm, name, max_age_s=0)  # no caching, to watch each change
    assert weight() == 100
    ssm.put_parameter(Name=name, Value="10", Type="String", Overwrite=True)
    assert weight() == 10
    ssm.put_parameter(Name=name, Value="250", Type="String", Overwrite=True)
    with pytest.raises(ValueError, match="0-100"):
        weight()


def test_the_api_routes_by_the_parameter_over_the_fixed_weight() -> None:
    with EmbeddedStack(green_weight=0) as own:
        name = f"/{own.settings.bucket}/routing/green-weight"
        ssm_client(own.settings, own.session).put_parameter(Name=name, Value="100", Type="String")
        settings = dataclasses.replace(own.settings, routing_parameter=name)
        pipe = Pipeline(
            own, api.make_handler(settings, own.session), worker.make_handler(settings, own.session)
        )
        for _ in range(3):
            status, accepted = pipe.upload((EXAMPLES / "orders.csv").read_bytes()[:2000])
            assert status == 202
            assert pipe.s3_json(keys.meta_key(accepted["dataset_id"]))["route"] == "green"
            assert json.loads(pipe.take_message("green")["Body"])["dataset_id"] == accepted["dataset_id"]
