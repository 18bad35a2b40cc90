"""docs/runtime.md and csvprof.limits state the same numbers."""

from __future__ import annotations

import re

import pytest

from csvprof import limits
from tests.support.contracts import ROOT

UNITS = {"MB": 1, "s": 1, "MiB": limits.MiB, "GiB": limits.GiB, "days": 86_400, "": 1}


def runtime_rows() -> list[tuple[str, str, str]]:
    text = (ROOT / "docs" / "runtime.md").read_text()
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2].startswith("`"):
            rows.append((cells[0], cells[1], cells[2].strip("`")))
    return rows


def parse_value(text: str) -> int:
    match = re.fullmatch(r"([\d,]+)\s*(\w*)", text)
    assert match, f"cannot read {text!r}"
    return int(match[1].replace(",", "")) * UNITS[match[2]]


def test_the_table_covers_every_limit() -> None:
    named = {row[2] for row in runtime_rows()}
    constants = {n for n in dir(limits) if n.isupper() and isinstance(getattr(limits, n), int)}
    assert constants - {"MiB", "GiB"} == named - {"MiB", "GiB"}


@pytest.mark.parametrize("row", runtime_rows(), ids=lambda r: r[2])
def test_each_row_matches_its_constant(row: tuple[str, str, str]) -> None:
    _, value, constant = row
    assert parse_value(value) == getattr(limits, constant)


def test_runtime_and_architecture_are_stated() -> None:
    text = (ROOT / "docs" / "runtime.md").read_text()
    assert f"**{limits.LAMBDA_RUNTIME}**" in text
    assert f"**{limits.LAMBDA_ARCHITECTURE}**" in text
