"""`csvprof diff`'s text output: the verdict, one line per finding, then a table per column."""

from __future__ import annotations

from collections import Counter

from csvprof.diff.compare import ColumnDiff, ProfileDiff, Severity


def render_text(diff: ProfileDiff) -> str:
    counts = Counter(f.severity for f in diff.findings)
    tally = ", ".join(f"{counts[s]} {s.label}" for s in (Severity.FAIL, Severity.WARN) if counts[s])
    lines = [
        f"verdict: {diff.verdict.label.upper()}"
        + (f" ({tally})" if tally else " (no drift over the thresholds)"),
        _side("old", diff.old.rows, diff.old.columns, diff.old.dataset_id or diff.old.generated_at),
        _side("new", diff.new.rows, diff.new.columns, diff.new.dataset_id or diff.new.generated_at),
    ]
    lines += [f"  {f.severity.label.upper():<4}  {f.message}" for f in diff.findings]
    rows = [["column", "change", "type", "null rate", "distinct", "PSI", "KS ≤"]]
    rows += [_row(c) for c in diff.columns]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    table.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, "", *table])


def _side(label: str, rows: int, columns: int, which: str) -> str:
    return f"{label}: {rows:,} rows x {columns} columns ({which})"


def _row(column: ColumnDiff) -> list[str]:
    change = column.status if column.status != "common" else column.severity.label
    if column.old_type == column.new_type or column.old_type is None or column.new_type is None:
        kind = column.new_type or column.old_type or ""
    else:
        kind = f"{column.old_type}→{column.new_type}"
    nulls = column.null_rate
    distinct = column.distinct
    shift = column.shift
    return [
        column.name,
        change,
        kind,
        f"{nulls.old:.1%}→{nulls.new:.1%}" if nulls else "",
        f"{distinct.old:,}→{distinct.new:,}" if distinct else "",
        f"{shift.psi:.3f}" if shift else "",
        f"{shift.ks.statistic:.3f}" if shift else "",
    ]
