"""The report as a person sees it: a generated file profiled by the real engine, rendered, opened in
headless Chromium (Debian's package; `tox -e browser` installs it with scripts/browser.sh).

Checked in the browser itself: every column's card is there with its charts drawn (non-zero
boxes, shapes inside), nothing was said on the console or refused by the page's CSP, the load
time, and a screenshot that is not blank and shows the charts' colours.
`CSVPROF_SCREENSHOT=docs/report-screenshot.png` keeps the screenshot (the README's picture).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from csvprof.contracts.profile import Profile
from csvprof.local.testdata import write_csv
from csvprof.profiler import ArrowProfileEngine, default_budget
from csvprof.report import render
from tests.browser.chromium import Chromium, decode_png, find_chromium

# What a page of this size must load in, with margin for a shared CI machine (the figures print).
MAX_LOAD_S_SMALL = 2.0
MAX_LOAD_S_WIDE = 8.0

CARDS_JS = """JSON.stringify([...document.querySelectorAll('article.card')].map(card => ({
  id: card.id,
  name: card.querySelector('h3').textContent,
  box: card.getBoundingClientRect().height,
  charts: [...card.querySelectorAll('svg')].map(svg => {
    const box = svg.getBoundingClientRect();
    const shapes = [...svg.querySelectorAll('rect,path')].filter(s => s.getBBox().width > 0);
    return {kind: svg.getAttribute('class'), width: box.width, height: box.height, drawn: shapes.length};
  }),
})))"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    exe = find_chromium()
    if exe is None:
        pytest.skip("no chromium: run `tox -e browser` (scripts/browser.sh installs Debian's package)")
    chromium = Chromium(exe)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    source = tmp_path_factory.mktemp("report") / "orders.csv"
    write_csv(source, 400_000, seed=7)
    with source.open("rb") as stream:
        return ArrowProfileEngine(workers=1).profile(
            stream, size=source.stat().st_size, budget=default_budget()
        )


def open_report(browser: Chromium, profile: Profile, path: Path) -> tuple[float, float]:
    path.write_text(render(profile), encoding="utf-8")
    browser.events.clear()
    took = browser.open(path.as_uri())
    load_ms = browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    return took, float(load_ms) / 1000


def test_every_card_and_chart_is_drawn_and_the_console_is_quiet(
    browser: Chromium, profile: Profile, tmp_path: Path
) -> None:
    took, load_s = open_report(browser, profile, tmp_path / "report.html")
    print(
        f"\n{len(profile.columns)} columns: loaded in {load_s * 1000:.0f} ms "
        f"(navigation {took * 1000:.0f} ms)"
    )

    cards = json.loads(browser.evaluate(CARDS_JS))
    assert [c["name"] for c in cards] == [c.name for c in profile.columns]
    for card, column in zip(cards, profile.columns, strict=True):
        kinds = {chart["kind"]: chart for chart in card["charts"]}
        expected = {"mixbar"}
        if column.histogram is not None:
            expected.add("histogram")
        if column.top_values:
            expected.add("tv topvalues")
        assert set(kinds) == expected, column.name
        for kind, chart in kinds.items():
            assert chart["width"] > 100, (column.name, kind)
            assert chart["height"] >= 8, (column.name, kind)
            assert chart["drawn"] >= 1, (column.name, kind)
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.title").startswith("csvprof report")
    assert browser.console() == []
    assert load_s < MAX_LOAD_S_SMALL


def test_the_screenshot_shows_the_page_and_its_charts(
    browser: Chromium, profile: Profile, tmp_path: Path
) -> None:
    open_report(browser, profile, tmp_path / "report.html")
    browser.evaluate("document.getElementById('columns').scrollIntoView()")
    shot = tmp_path / "report.png"
    pixels = decode_png(browser.screenshot(shot))[..., :3].astype(np.int32)
    height, width, _ = pixels.shape
    not_white = (pixels.min(axis=2) < 235).sum()
    assert not_white > 0.05 * height * width  # text, cards, charts: not a blank page
    # The charts' blue (#3461c1: histograms, integer type bars) and teal (#2a9d8f: decimal).
    for rgb in ((0x34, 0x61, 0xC1), (0x2A, 0x9D, 0x8F)):
        assert (np.abs(pixels - np.array(rgb)).max(axis=2) < 12).sum() > 500, rgb
    keep = os.environ.get("CSVPROF_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)


def test_a_two_thousand_column_report_opens_in_the_browser(
    browser: Chromium, profile: Profile, tmp_path: Path
) -> None:
    columns = tuple(
        replace(profile.columns[i % len(profile.columns)], index=i, name=f"c{i}") for i in range(2000)
    )
    wide = replace(profile, columns=columns, dataset=replace(profile.dataset, columns=2000))
    started = time.perf_counter()
    page = render(wide)
    render_s = time.perf_counter() - started
    took, load_s = open_report(browser, wide, tmp_path / "wide.html")
    print(
        f"\n2,000 columns: {len(page.encode()):,} bytes, rendered in {render_s * 1000:.0f} ms, "
        f"loaded in {load_s * 1000:.0f} ms (navigation {took * 1000:.0f} ms)"
    )
    assert browser.evaluate("document.querySelectorAll('article.card').length") == 2000
    assert browser.evaluate("document.querySelectorAll('svg.histogram').length") == sum(
        1 for c in columns if c.histogram is not None
    )
    assert browser.console() == []
    assert load_s < MAX_LOAD_S_WIDE


def test_the_harness_hears_a_console_error_and_a_refused_script(browser: Chromium, tmp_path: Path) -> None:
    """So an empty console above means a quiet page, not a deaf harness."""
    noisy = tmp_path / "noisy.html"
    noisy.write_text("<!doctype html><title>n</title><script>console.error('boom'); missing();</script>")
    browser.events.clear()
    browser.open(noisy.as_uri())
    said = browser.console()
    assert any("boom" in s for s in said)
    assert any(s.startswith("exception") for s in said)
    locked = tmp_path / "locked.html"
    locked.write_text(
        '<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        "<title>l</title><script>console.log('ran')</script>"
    )
    browser.events.clear()
    browser.open(locked.as_uri())
    said = browser.console()
    assert not any("ran" in s for s in said)
    assert said != []  # the refusal itself is reported
