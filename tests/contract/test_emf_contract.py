"""The EMF blobs the handlers really print match docs/observability.md; logs carry dataset_id."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

import pytest

from csvprof.contracts import keys
from csvprof.observability import NAMESPACE, ROUTE_DIMENSION
from tests.conftest import EXAMPLES
from tests.support.contracts import ROOT
from tests.support.pipeline import Pipeline, drive


def _table(section: str) -> dict[str, str]:
    text = (ROOT / "docs" / "observability.md").read_text()
    body = text.split(section + "\n", 1)[1].split("\n#", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| (\w+) \|", body, flags=re.M))


def documented_metrics() -> dict[str, dict[str, str]]:
    """{service: {metric: unit}} from the tables under '### API' and '### Worker'."""
    return {
        "csvprof-api": _table("### API (`service` = `csvprof-api`)"),
        "csvprof-worker": _table("### Worker (`service` = `csvprof-worker`)"),
    }


# The per-version metrics' blob: its documented table and its two dimension sets.
VERSION_SECTION = "### API, per alias and version (`service` = `csvprof-api`)"
VERSION_DIMENSIONS = [["Alias", "service"], ["service", "Alias", "FunctionVersion"]]


def printed_json(out: str) -> list[dict[str, Any]]:
    lines = []
    for line in out.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


@pytest.fixture
def fresh(pipeline: Pipeline) -> Pipeline:
    return Pipeline.on(pipeline.stack)


def logs_to_captured_stdout() -> None:
    """Powertools binds one stdout handler per service name when its first Logger is made;
    capsys swaps sys.stdout only once the test body runs, so re-point the handlers here."""
    for service in ("csvprof-api", "csvprof-worker"):
        for handler in logging.getLogger(service).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sys.stdout)


def fail_a_delivery(pipeline: Pipeline) -> None:
    """A delivery that fails unexpectedly: its meta is not a meta (a bug, not the file's fault)."""
    _, accepted = pipeline.upload(b"a,b\n1,2\n")
    meta_key = keys.meta_key(accepted["dataset_id"])
    route = pipeline.s3_json(meta_key)["route"]
    pipeline.stack.s3().put_object(Bucket=pipeline.stack.settings.bucket, Key=meta_key, Body=b"{}")
    assert pipeline.run_worker(pipeline.take_message(route), route)["batchItemFailures"]


def test_emf_matches_the_observability_contract(fresh: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    drive(fresh, (EXAMPLES / "orders.csv").read_bytes())  # READY
    drive(fresh, b"\x00\xff\xfe binary \x00" * 50)  # FAILED
    fail_a_delivery(fresh)  # DeliveriesFailed
    fresh.call("GET", "/datasets/not-an-id")  # rejected
    printed = printed_json(capsys.readouterr().out)

    blobs = [p for p in printed if "_aws" in p]
    assert blobs, "no EMF printed"
    doc = documented_metrics()
    per_version = _table(VERSION_SECTION)
    seen: dict[str, set[str]] = {service: set() for service in doc}
    for blob in blobs:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE == "CsvProf"
        if directive["Dimensions"] == VERSION_DIMENSIONS:
            assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == per_version
            assert (blob["service"], blob["Alias"], blob["FunctionVersion"]) == (
                "csvprof-api",
                "$LATEST",
                "$LATEST",
            )
            continue
        service = blob["service"]
        if service == "csvprof-worker":  # per route too: docs/observability.md, Worker
            assert directive["Dimensions"] == [["service"], ["service", ROUTE_DIMENSION]]
            assert blob[ROUTE_DIMENSION] in ("blue", "green")
        else:
            assert directive["Dimensions"] == [["service"]]
        for metric in directive["Metrics"]:
            name = metric["Name"]
            assert name in doc[service], f"{service} emits undocumented {name}"
            assert metric["Unit"] == doc[service][name], name
            assert isinstance(blob[name], (int, float, list))
            seen[service].add(name)
    for service, metrics in doc.items():
        assert seen[service] == set(metrics), (
            f"{service}: documented but never emitted: {set(metrics) - seen[service]}"
        )
    assert any(b["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == VERSION_DIMENSIONS for b in blobs)


def test_worker_log_lines_carry_the_dataset_id(fresh: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    logs_to_captured_stdout()
    seen = drive(fresh, (EXAMPLES / "sensor_readings.tsv").read_bytes())
    out = capsys.readouterr().out
    logs = [p for p in printed_json(out) if "level" in p and p.get("service") == "csvprof-worker"]
    assert logs, out
    assert all(line.get("dataset_id") == seen["dataset_id"] for line in logs), logs
