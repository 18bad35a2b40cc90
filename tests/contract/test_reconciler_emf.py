"""The reconciler's EMF and answer, from the real handler on a stack: as docs/observability.md says."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from csvprof.adapters.s3 import S3MetaRepository
from csvprof.contracts import keys
from csvprof.contracts.meta import Meta
from csvprof.handlers import reconciler
from csvprof.limits import RECONCILER_MEMORY_MB, RECONCILER_TIMEOUT_S
from csvprof.local.context import new_context
from csvprof.local.schedule import scheduled_event
from csvprof.observability import NAMESPACE
from tests.contract.test_emf_contract import printed_json
from tests.support.contracts import ROOT
from tests.support.pipeline import Pipeline


def documented_reconciler_metrics() -> dict[str, str]:
    text = (ROOT / "docs" / "observability.md").read_text()
    body = text.split("### Reconciler", 1)[1].split("\n#", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| (\w+) \|", body, flags=re.M))


def test_a_run_emits_the_documented_metrics(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> None:
    stack = pipeline.stack
    # One dataset whose send was lost an hour ago: this run enqueues it again.
    dataset_id = keys.new_dataset_id()
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    S3MetaRepository(stack.s3(), stack.settings.bucket).create(
        Meta.new(dataset_id, name=None, route="blue", source_bytes=1, now=an_hour_ago)
    )
    # Its object is new, so let the cheap LastModified filter pass it at once.
    settings = replace(stack.settings, stale_uploaded_after_s=0.0)
    handler = reconciler.make_handler(settings, stack.session)
    context = new_context(
        "csvprof-reconciler",
        memory_mb=RECONCILER_MEMORY_MB,
        timeout_s=RECONCILER_TIMEOUT_S,
        region=stack.region,
    )
    answer = handler(scheduled_event("csvprof-reconcile", region=stack.region, at=datetime.now(UTC)), context)
    assert dataset_id in answer["requeued"]
    assert answer["abandoned"] == answer["errors"] == []

    (blob,) = [p for p in printed_json(capsys.readouterr().out) if "_aws" in p]
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    assert directive["Dimensions"] == [["service"]]
    assert blob["service"] == "csvprof-reconciler"
    emitted = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert emitted == documented_reconciler_metrics()
    values = {name: blob[name][0] if isinstance(blob[name], list) else blob[name] for name in emitted}
    assert values["DatasetsRequeued"] == values["DatasetsReconciled"] == len(answer["requeued"])
    assert values["DatasetsAbandoned"] == 0
    assert values["MetasExamined"] == answer["examined"] >= 1
