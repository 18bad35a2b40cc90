"""csvprof.report.render: what a person sees, escaped, and bounded (size and time)."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from csvprof import cli
from csvprof.contracts.keys import DatasetId
from csvprof.contracts.message import DatasetMessage
from csvprof.contracts.meta import Meta, Status
from csvprof.contracts.profile import ColumnProfile, Profile, QualityWarning, TopValue
from csvprof.domain.processing import Worker
from csvprof.profiler import ArrowProfileEngine, default_budget
from csvprof.report import render
from csvprof.report.html import MAX_REPORT_BYTES
from tests.support.fakes import InMemoryArtifacts, InMemoryMetas, RecordingPublisher

ID = DatasetId("3f2b8c1e-9a4d-4e7b-8c21-5d6f7a8b9c0d")
NOW = datetime(2026, 11, 25, tzinfo=UTC)
CSV = b"id,amount,city,<b>name</b>\n" + b"".join(
    f"{i},{i * 1.5:.2f},{'Paris' if i % 3 else 'Berlin'},n{i % 7}\n".encode() for i in range(200)
)
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\x00\u202e'


def profile_of(data: bytes = CSV) -> Profile:
    return ArrowProfileEngine(workers=1).profile(io.BytesIO(data), size=len(data), budget=default_budget())


def cards(page: str) -> list[str]:
    return re.findall(r"<article class=card id=\"c\d+\">.*?</article>", page)


def test_every_column_has_a_card_with_its_charts_and_the_overview_its_numbers() -> None:
    profile = profile_of()
    page = render(profile)
    found = cards(page)
    assert len(found) == len(profile.columns) == 4
    numeric = [c for c in profile.columns if c.histogram is not None]
    assert numeric
    assert page.count("<svg class=histogram") == len(numeric)
    assert page.count("<svg class=mixbar") == 4
    assert page.count('<svg class="tv topvalues"') == sum(1 for c in profile.columns if c.top_values)
    assert "<dt>rows</dt><dd>200</dd>" in page
    assert "<dt>skipped lines</dt><dd>0</dd>" in page
    assert "&lt;b&gt;name&lt;/b&gt;" in page
    assert "<b>name</b>" not in page
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    assert "http" not in page.split("</head>")[1]


def test_file_values_are_escaped_cut_and_stripped_of_controls() -> None:
    profile = profile_of()
    column = replace(
        profile.columns[2],
        name=HOSTILE,
        original_name=HOSTILE * 10,
        min=HOSTILE,
        top_values=(TopValue(HOSTILE, 9), TopValue("x" * 5000, 3)),
    )
    warning = QualityWarning("MIXED_TYPES", HOSTILE, HOSTILE, {HOSTILE: 1, "approximate": True})
    page = render(replace(profile, columns=(column,), warnings=(warning,)))
    body = page.split("</head>")[1]
    assert "<script" not in body
    assert "<img" not in body
    assert "\x00" not in page
    assert "&lt;script&gt;" in body
    assert "&amp;amp;" in body
    assert "x" * 100 not in page  # cut, with "…"
    assert "\u202e" in page  # direction marks stay text, isolated by the .v class (unicode-bidi)


def test_approximate_figures_say_so_with_their_bound() -> None:
    profile = profile_of()
    column = profile.columns[1]
    assert column.quantiles is not None
    assert column.histogram is not None
    approx = replace(
        column,
        distinct=replace(column.distinct, approximate=True, relative_error=0.008125),
        quantiles=replace(column.quantiles, approximate=True),
        histogram=replace(column.histogram, approximate=True),
        top_values=(TopValue("1.50", 4),),
        top_values_approximate=True,
        top_values_max_error=2,
    )
    page = render(replace(profile, columns=(approx,)))
    assert "≈ 200 <span class=mut>± 0.81%</span>" in page
    assert "quantiles: ≈ rank error ± 1.3%" in page
    assert "≈ bin edges ± 1.7% of rows" in page
    assert "each short by at most 2" in page


def wide(columns: int, column: ColumnProfile, profile: Profile) -> Profile:
    many = tuple(replace(column, index=i, name=f"{column.name}_{i}") for i in range(columns))
    return replace(profile, columns=many, dataset=replace(profile.dataset, columns=columns))


def test_two_thousand_columns_render_under_5_mb() -> None:
    """Its render time is a benchmark: tests/perf/test_report_bench.py."""
    page = render(two_thousand_columns())
    print(f"2,000 columns: {len(page.encode()):,} bytes")
    assert len(cards(page)) == 2000
    assert len(page.encode()) < MAX_REPORT_BYTES


def two_thousand_columns() -> Profile:
    """A profile of 2,000 copies of the sample's fullest column (the largest card)."""
    profile = profile_of()
    full = max(profile.columns, key=lambda c: len(render(replace(profile, columns=(c,)))))
    return wide(2000, full, profile)


def test_hostile_long_values_in_every_column_stay_under_the_bound() -> None:
    profile = profile_of()
    column = replace(
        max(profile.columns, key=lambda c: c.histogram is not None),
        original_name="<&>" * 100,
        min="<&>" * 100,
        max="<&>" * 100,
        top_values=tuple(TopValue("<&>" * 100 + str(i), 10 - i) for i in range(10)),
    )
    column = replace(column, name="<&>" * 30)
    page = render(wide(2000, column, profile))
    print(f"2,000 hostile columns: {len(page.encode()):,} bytes")
    assert len(page.encode()) < MAX_REPORT_BYTES
    assert "<svg class=histogram" in page  # compact, not empty
    assert len(cards(page)) == 2000


# --- the worker stores it; csvprof report renders a local file ----------------------------------


def worker_with(render_report: object) -> tuple[Worker, InMemoryMetas, InMemoryArtifacts]:
    metas, artifacts = InMemoryMetas(), InMemoryArtifacts()
    metas.create(Meta.new(ID, name="t.csv", route="green", source_bytes=len(CSV), now=NOW))
    artifacts.put_source(ID, CSV, "t.csv")
    worker = Worker(
        metas, artifacts, RecordingPublisher(), ArrowProfileEngine(workers=1), now=lambda: NOW,
        render_report=render_report,  # type: ignore[arg-type]
    )  # fmt: skip
    return worker, metas, artifacts


def test_the_worker_writes_the_report_after_the_profile_and_before_ready() -> None:
    worker, metas, artifacts = worker_with(render)
    worker.process(
        DatasetMessage(ID, "green", "2026-11-25T00:00:00.000Z"), receive_count=1, budget=default_budget()
    )
    assert metas.stored[ID][0].status is Status.READY
    assert [c.split()[0] for c in artifacts.calls if c.startswith("put_")][-2:] == [
        "put_profile",
        "put_report",
    ]
    assert artifacts.reports[ID] == render(artifacts.profiles[ID])


def test_a_renderer_that_fails_leaves_the_dataset_ready_without_a_report() -> None:
    def broken(profile: Profile) -> str:
        raise ValueError("a bug")

    worker, metas, artifacts = worker_with(broken)
    worker.process(
        DatasetMessage(ID, "green", "2026-11-25T00:00:00.000Z"), receive_count=1, budget=default_budget()
    )
    assert metas.stored[ID][0].status is Status.READY
    assert artifacts.reports == {}


def test_csvprof_report_renders_a_local_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "profile.json"
    source.write_text(json.dumps(profile_of().to_dict()))
    out = tmp_path / "report.html"
    assert cli.main(["report", str(source), "-o", str(out)]) == cli.EXIT_OK
    assert len(cards(out.read_text())) == 4
    assert "report written to" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argument", "said"),
    [(ID, "is a dataset id, not a file"), ("nope.json", "no such file"), ("bad", "not a profile.json")],
)
def test_csvprof_report_refuses_what_is_not_a_profile_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argument: str,
    said: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad").write_text("{}")
    assert cli.main(["report", argument]) != cli.EXIT_OK
    err = capsys.readouterr().err
    assert said in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "report.html").exists()
