"""Compare two saved perf runs: `python -m tests.perf.compare [OLD.json NEW.json] [--tolerance X]`.

Without files, the two newest saved runs (tests/perf/runs.py). For every shape and size both
runs measured, prints csvprof's ratio to DuckDB SUMMARIZE old -> new (and csvprof's MB/s), and
flags a regression where the new ratio fell below the old one by more than the tolerance
(REGRESSION_TOLERANCE of the old ratio, by default). The ratio, not the MB/s, is compared: both
tools ran on the same machine in the same minutes, so load and CPU model cancel out. Exit 1 on a
regression, 0 otherwise, 2 when there is nothing to compare.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.perf.matrix import REGRESSION_TOLERANCE
from tests.perf.runs import Record, load_run, saved_runs


@dataclass(frozen=True)
class Change:
    key: str
    old_ratio: float
    new_ratio: float
    old_mbps: float
    new_mbps: float
    regressed: bool

    def line(self) -> str:
        flag = "  REGRESSION" if self.regressed else ""
        change = (self.new_ratio / self.old_ratio - 1) * 100 if self.old_ratio else 0.0
        return (
            f"{self.key.removeprefix('matrix/'):<20} ratio {self.old_ratio:.2f} -> {self.new_ratio:.2f} "
            f"({change:+.0f} %)  csvprof {self.old_mbps:.0f} -> {self.new_mbps:.0f} MB/s{flag}"
        )


def compare(
    old: dict[str, Record], new: dict[str, Record], tolerance: float = REGRESSION_TOLERANCE
) -> list[Change]:
    """The matrix measurements both runs have, old -> new."""
    changes = []
    for key in sorted(old.keys() & new.keys()):
        if not key.startswith("matrix/") or old[key].get("ratio") is None or new[key].get("ratio") is None:
            continue
        o, n = old[key], new[key]
        changes.append(
            Change(
                key,
                o["ratio"],
                n["ratio"],
                o["csvprof"]["mb_per_s"],
                n["csvprof"]["mb_per_s"],
                n["ratio"] < o["ratio"] * (1 - tolerance),
            )
        )
    return changes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.compare", description=__doc__.split("\n")[0])
    parser.add_argument(
        "runs", nargs="*", type=Path, help="OLD.json NEW.json (default: the two newest saved)"
    )
    parser.add_argument("--tolerance", type=float, default=REGRESSION_TOLERANCE)
    args = parser.parse_args(argv)
    if len(args.runs) not in (0, 2):
        parser.error("give two saved runs (OLD NEW), or none for the two newest")
    paths = args.runs or saved_runs()[-2:]
    if len(paths) < 2:
        print("nothing to compare: fewer than two saved runs (tox -e perf saves one per run)")
        return 2
    changes = compare(load_run(paths[0]), load_run(paths[1]), args.tolerance)
    print(f"{paths[0]} -> {paths[1]} (tolerance {args.tolerance:.0%} of the old ratio)")
    if not changes:
        print("no shape and size measured by both runs")
        return 2
    for change in changes:
        print(change.line())
    regressions = [c for c in changes if c.regressed]
    print(f"{len(regressions)} regression(s) in {len(changes)} comparison(s)")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
