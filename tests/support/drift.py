"""Pairs of real profiles for the diff's tests: generated CSVs (`write_csv`), optionally with a
planted change, profiled by the real engine.

`python -m tests.support.drift` rewrites the diff's pass examples in
contracts/examples/profile-diff/ from what `compare` really emits for these pairs.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from csvprof.contracts.profile import Profile
from csvprof.diff import Thresholds, compare
from csvprof.local.testdata import COLUMNS, write_csv
from csvprof.profiler import ArrowProfileEngine, default_budget

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "profile-diff"
# ~11,000 rows: a sketch well past exact (approximate quantiles), under a second to profile.
PAIR_BYTES = 2_000_000

Edit = Callable[[pa.Table], pa.Table]


def profile_csv(path: Path) -> Profile:
    with path.open("rb") as stream:
        return ArrowProfileEngine(workers=1).profile(
            stream, size=path.stat().st_size, budget=default_budget()
        )


def generated(folder: Path, seed: int, edit: Edit | None = None, size: int = PAIR_BYTES) -> Profile:
    """The profile of `write_csv(seed)`, edited (read back as text, so only the edited columns change)."""
    path = folder / f"seed-{seed}.csv"
    write_csv(path, size, seed=seed)
    if edit is not None:
        text = pacsv.ConvertOptions(
            column_types=dict.fromkeys(COLUMNS, pa.string()), strings_can_be_null=False
        )
        quoted = pacsv.ParseOptions(newlines_in_values=True)
        table = edit(pacsv.read_csv(path, parse_options=quoted, convert_options=text))
        path = folder / f"seed-{seed}-edited.csv"
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return profile_csv(path)


def numbers(table: pa.Table, column: str) -> pa.Array:
    """A text column as float64 (empty → null)."""
    values = table[column]
    return pc.cast(pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values), pa.float64())


def scaled(column: str, factor: float, add: float = 0.0) -> Edit:
    """x → factor·x + add on one numeric column (nulls stay empty)."""

    def edit(table: pa.Table) -> pa.Table:
        shifted = pc.add(pc.multiply(numbers(table, column), factor), add)
        text = pc.fill_null(pc.cast(pc.round(shifted, 2), pa.string()), "")
        return table.set_column(table.schema.get_field_index(column), column, text)

    return edit


def nulls(column: str, share: float) -> Edit:
    """The first `share` of the column's rows emptied."""

    def edit(table: pa.Table) -> pa.Table:
        n = int(table.num_rows * share)
        emptied = pa.array([""] * n + table[column].to_pylist()[n:], pa.string())
        return table.set_column(table.schema.get_field_index(column), column, emptied)

    return edit


def reshaped(table: pa.Table) -> pa.Table:
    """Schema changes: `uuid` removed, `channel` added, `active` retyped (boolean → string)."""
    table = table.drop_columns(["uuid"])
    active = pc.if_else(pc.equal(table["active"], "true"), pa.scalar("yes!"), pa.scalar("no!"))
    table = table.set_column(table.schema.get_field_index("active"), "active", active)
    return table.append_column("channel", pa.array(["web"] * table.num_rows, pa.string()))


def write_examples() -> None:
    """The pass examples, as `compare(...).to_dict()` emits them."""
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        base = generated(where, 1)
        cases = {
            "identical": compare(base, base),
            "planted-shift": compare(base, generated(where, 2, scaled("amount", 2.0))),
            "schema-changes": compare(base, generated(where, 3, reshaped)),
            "thresholds-off": compare(
                base, generated(where, 4, nulls("comment", 0.5)), Thresholds(null_rate_fail=None, ks_warn=0.2)
            ),
        }
    EXAMPLES.mkdir(exist_ok=True)
    for name, diff in cases.items():
        (EXAMPLES / f"{name}.pass.json").write_text(json.dumps(diff.to_dict(), indent=2) + "\n")


if __name__ == "__main__":
    write_examples()
