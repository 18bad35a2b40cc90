"""The perf doc's plots, as SVG: throughput per shape, against file size, against workers.

Drawn with matplotlib's SVG backend, reproducibly: a fixed hash salt for the element ids, no
date in the metadata, text kept as text. The same data gives the same bytes, so a regenerated
doc changes only where the numbers did. Only `python -m tests.perf.report` imports this.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.perf.matrix import parse_size
from tests.perf.runs import Record

TOOLS = (("csvprof", "csvprof"), ("duckdb", "DuckDB SUMMARIZE"), ("polars", "Polars describe"))
_RC = {"svg.hashsalt": "csvprof-perf", "svg.fonttype": "none", "font.size": 9}


def _draw(path: Path, draw: Callable[[Any], None], width: float = 7.0) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(width, 3.6))
        draw(figure.add_subplot())
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="svg", metadata={"Date": None})


def _mbps(entry: Record, tool: str) -> float:
    numbers = entry.get(tool, {})
    return float(numbers["mb_per_s"]) if "mb_per_s" in numbers else 0.0


def shapes(path: Path, size: str, matrix: list[Record]) -> None:
    """Grouped bars: each shape's MB/s for csvprof, DuckDB and Polars (0 where a tool could not run)."""

    def draw(ax: Any) -> None:
        names = [entry["shape"] for entry in matrix]
        width = 0.8 / len(TOOLS)
        for i, (tool, label) in enumerate(TOOLS):
            xs = [x + (i - 1) * width for x in range(len(matrix))]
            values = [_mbps(entry, tool) for entry in matrix]
            ax.bar(xs, values, width, label=label)
            for x, value in zip(xs, values, strict=True):
                if not value:
                    ax.text(x, 0, "n/a", ha="center", va="bottom", rotation=90, fontsize=7)
        ax.set_xticks(range(len(names)), names)
        ax.set_ylabel("MB/s (best run)")
        ax.set_title(f"Throughput by shape, {size} files")
        ax.legend(frameon=False)

    _draw(path, draw)


def sizes(path: Path, matrix: list[Record], lambda_shaped: list[Record]) -> None:
    """MB/s against file size (log scale) for the mixed shape, with csvprof Lambda-shaped."""

    def draw(ax: Any) -> None:
        by_size = sorted(matrix, key=lambda e: parse_size(e["size"]))
        xs = [e["bytes"] / 1e6 for e in by_size]
        for tool, label in TOOLS:
            points = [(x, _mbps(e, tool)) for x, e in zip(xs, by_size, strict=True) if _mbps(e, tool)]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=label)
        lam = sorted(lambda_shaped, key=lambda e: parse_size(e["size"]))
        if lam:
            ax.plot(
                [e["bytes"] / 1e6 for e in lam],
                [_mbps(e, "csvprof") for e in lam],
                marker="s",
                linestyle="--",
                label=f"csvprof, Lambda-shaped ({lam[0]['cpu_quota']} vCPU)",
            )
        ax.set_xscale("log")
        ax.set_xlabel("file size, MB")
        ax.set_ylabel("MB/s (best run)")
        ax.set_title("Throughput against file size, mixed shape")
        ax.legend(frameon=False)

    _draw(path, draw)


def workers(path: Path, entries: list[Record]) -> None:
    """csvprof's MB/s against its worker count, one line per file size."""

    def draw(ax: Any) -> None:
        counts: set[int] = set()
        for entry in sorted(entries, key=lambda e: parse_size(e["size"])):
            points = sorted(
                (int(n), float(r["mb_per_s"])) for n, r in entry["by_workers"].items() if "mb_per_s" in r
            )
            counts.update(n for n, _ in points)
            ax.plot(*zip(*points, strict=True), marker="o", label=f"mixed, {entry['size']}")
        ax.set_xticks(sorted(counts))
        ax.set_xlabel("workers")
        ax.set_ylabel("csvprof MB/s (best run)")
        ax.set_ylim(bottom=0)
        ax.set_title("csvprof against its worker count")
        ax.legend(frameon=False)

    _draw(path, draw, width=5.0)
