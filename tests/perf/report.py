"""docs/performance.md and its plots, by explicit command only: `python -m tests.perf.report [RUN.json ...]`.

Run from the repository root, in an environment with the perf extra (`.tox/perf/bin/python`).
The measurements live as JSON in a comment at the end of docs/performance.md; the command merges
the given saved runs (default: every run saved under .benchmarks/) into them by kind, shape and
size, the newer measurement winning, so a 100 MB run keeps the last 1 GB numbers. It then renders
the doc from that data and draws docs/perf/*.svg (tests/perf/plots.py). The perf layer never
writes the doc: a CI run leaves the checkout as it found it.
tests/unit/test_profiler_perf_doc.py checks the rendered text matches the data.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from csvprof.limits import WORKER_MEMORY_MB, WORKER_TIMEOUT_S
from tests.perf.cgroup import LAMBDA_CPUS, LAMBDA_MB_PER_VCPU
from tests.perf.matrix import (
    KNOWN_PEAK_EXCESS,
    MAX_PEAK_RSS_MB,
    MIN_RATIO,
    POLARS_MAX_BYTES,
    REGRESSION_TOLERANCE,
    SEED,
    parse_size,
)
from tests.perf.runs import ROOT, Record, load_run, saved_runs

MD_PATH = ROOT / "docs" / "performance.md"
PLOTS_DIR = ROOT / "docs" / "perf"
DATA_START = "<!-- perf-data"
DATA_END = "-->"


def _by_kind(results: dict[str, Record], kind: str) -> list[Record]:
    return sorted(
        (r for r in results.values() if r["kind"] == kind),
        key=lambda r: (parse_size(r["size"]), list(MIN_RATIO).index(r["shape"])),
    )


def _sizes(entries: list[Record]) -> list[str]:
    return sorted({e["size"] for e in entries}, key=parse_size)


def plot_files(doc: dict[str, Any]) -> dict[str, Callable[[Path], None]]:
    """The plots the data has points for, by file name under docs/perf/, each with how to draw it.

    Listing them needs no matplotlib (tests/perf/plots.py imports it only to draw).
    """
    from tests.perf import plots

    results = doc.get("results", {})
    matrix, workers = _by_kind(results, "matrix"), _by_kind(results, "workers")
    lam = _by_kind(results, "lambda")
    files: dict[str, Callable[[Path], None]] = {}
    for size in _sizes(matrix):
        at = [e for e in matrix if e["size"] == size]
        files[f"shapes-{size.lower()}.svg"] = lambda path, size=size, at=at: plots.shapes(path, size, at)
    mixed = [e for e in matrix if e["shape"] == "mixed"]
    if mixed:
        mixed_lam = [e for e in lam if e["shape"] == "mixed"]
        files["size.svg"] = lambda path: plots.sizes(path, mixed, mixed_lam)
    if workers:
        files["workers.svg"] = lambda path: plots.workers(path, workers)
    return files


def _tool(entry: Record, tool: str, field: str = "mb_per_s") -> str:
    numbers = entry.get(tool) or {}
    if field in numbers:
        return f"{numbers[field]:,.0f}"
    return "n/a" if "na" in numbers else "-"


def _na_notes(matrix: list[Record]) -> list[str]:
    notes = []
    for e in matrix:
        for tool, label in (("duckdb", "DuckDB"), ("polars", "Polars")):
            reason = (e.get(tool) or {}).get("na")
            if reason:
                notes.append(f"* {label} on `{e['shape']}` {e['size']}: n/a, {reason}")
    return notes


_METHOD = f"""\
## Method

* **The files.** `csvprof generate OUT --size SIZE --shape SHAPE --seed {SEED}`
  (`csvprof.local.testdata.write_csv`): the seven shapes of the README (`mixed`, `narrow`, `wide`,
  `text`, `timestamps`, `sparse`, `dirty`), the same bytes on every machine.
* **The tools.** csvprof: `ArrowProfileEngine().profile(...)` with its default workers
  (`available_cpus()`); DuckDB: `SUMMARIZE SELECT * FROM read_csv(FILE)`, with `null_padding = true`
  for `dirty` (its sniffer reads the ragged file as one text column otherwise); Polars:
  `pl.read_csv(FILE).describe()` with its defaults, eager, so only files up to
  {POLARS_MAX_BYTES / 1e9:.0f} GB. A file a tool cannot read is `n/a` with its error, not a failure.
  csvprof's rows plus its ragged rows must equal DuckDB's count.
* **Fresh processes.** Each run is `python -m tests.perf.probe TOOL FILE` in a new interpreter; its
  time excludes the interpreter's start and imports (and csvprof's `tune_process()`, which every
  profiling process makes once). MB/s are decimal: bytes / 10^6 / seconds.
* **Alternation, best of N.** A round runs every tool once, the first tool rotating from round to
  round; the fastest run of each tool counts, and the largest peak. The machine is shared, so the
  gate and the comparison use the ratio (csvprof MB/s ÷ DuckDB MB/s) of runs minutes apart, not
  the absolute MB/s.
* **Peak memory.** The kernel's peak for a memory cgroup the run has to itself: the whole process
  tree (csvprof folds in forked workers), each page once, as a Lambda function's limit counts
  them, plus the process's file-backed pages (shared libraries, cached and charged before the
  cgroup existed) (`memory: cgroup`). Where no cgroup can be made: this process's RSS plus each
  worker's private pages, sampled every 100 ms (`memory: sampled`).
* **Lambda-shaped.** csvprof alone in a cgroup with the worker function's limits from
  `src/csvprof/limits.py`: a CPU quota of {WORKER_MEMORY_MB:,} / {LAMBDA_MB_PER_VCPU:,} = {LAMBDA_CPUS:.3f}
  vCPU (Lambda gives one vCPU per {LAMBDA_MB_PER_VCPU:,} MB) and a memory limit of {WORKER_MEMORY_MB:,} MB,
  in a cgroup namespace, so the engine reads that quota where it would in a Lambda sandbox and
  picks its workers from it (the test checks it picked what `available_cpus()` gives: 1). One
  run per shape and size; the projected time for 5 GiB is 5,368,709,120 bytes at that rate.
* **Beside a CPU hog.** csvprof with one busy-looping process per core running beside it
  (outside its cgroup): the memory gate must hold when the workers are starved of CPU too.
* **Saved runs.** Each perf run is saved by pytest-benchmark (`--benchmark-autosave`) as JSON in
  `.benchmarks/<machine>/`, with its machine and commit, every measurement in its benchmark's
  `extra_info`; this doc is rendered from those, by `python -m tests.perf.report` only.
"""  # noqa: S608 (prose that quotes a query)


def _gates() -> list[str]:
    floors = " ".join(f"| {ratio} " for ratio in MIN_RATIO.values())
    return [
        "## Gates",
        "",
        f"Every run fails CI when csvprof's process tree peaks above {MAX_PEAK_RSS_MB} MB (matrix,",
        "Lambda-shaped and CPU-hog runs alike), or when its ratio to DuckDB falls below its shape's floor:",
        "",
        "| " + " | ".join(MIN_RATIO) + " |",
        "|" + "---:|" * len(MIN_RATIO),
        floors + "|",
        "",
        "The floors are safe floors, not targets: about half the lowest ratio measured for the shape",
        "on a loaded 2-core machine (the runs of this doc's first measurements, and the 10 MB runs made",
        "while building the suite), rounded down to 0.05, so CI passes beside other jobs while csvprof",
        "falling to half its speed relative to DuckDB fails. A finer signal is the comparison:",
        "every perf run prints each shape's ratio against the previous saved run, and",
        f"`python -m tests.perf.compare` exits 1 when a ratio fell by more than {REGRESSION_TOLERANCE:.0%}",
        "of the old one. CI does not fail on it: the previous run may be another machine's or another",
        "load's. On the loaded machine of these numbers, two runs of the same code minutes apart moved",
        "a shape's ratio by up to 37 % (and 20 % for a second shape): trust a flag from a quiet machine,",
        "or after a rerun agrees.",
        "",
        *(
            [
                "Known excesses: where today's engine peaks above the gate, the test is an expected failure",
                "(xfail, its reason printed in every run's summary) up to a ceiling, and fails above it:",
                "",
                *(
                    f"* `{shape}`: up to {ceiling} MB; {reason}."
                    for shape, (ceiling, reason) in KNOWN_PEAK_EXCESS.items()
                ),
            ]
            if KNOWN_PEAK_EXCESS
            else []
        ),
    ]


def _matrix(matrix: list[Record]) -> list[str]:
    lines = ["## The shape matrix", ""]
    if not matrix:
        return [*lines, "Not measured yet: `./scripts/test -e perf`."]
    for size in _sizes(matrix):
        lines += [
            f"### {size} files",
            "",
            "| Shape | Rows | csvprof MB/s | peak MB | DuckDB MB/s | peak MB | Polars MB/s | peak MB "
            "| Ratio | Floor | Rounds | Measured |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for e in (e for e in matrix if e["size"] == size):
            ratio = f"{e['ratio']:.2f}" if e.get("ratio") is not None else "n/a"
            cells = [e["shape"], f"{e['rows']:,}"]
            for tool in ("csvprof", "duckdb", "polars"):
                cells += [_tool(e, tool), _tool(e, tool, "peak_rss_mb")]
            cells += [ratio, str(MIN_RATIO[e["shape"]]), str(e["rounds"]), e["measured_at"]]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            f"![csvprof, DuckDB and Polars MB/s by shape, {size}](perf/shapes-{size.lower()}.svg)",
            "",
        ]
    notes = _na_notes(matrix)
    if notes:
        lines += ["Where a tool could not run:", "", *notes, ""]
    if any(e["shape"] == "mixed" for e in matrix):
        lines += [
            "Throughput against file size (the mixed shape at every size measured; more sizes:",
            "`CSVPROF_PERF_SHAPES=mixed CSVPROF_PERF_SIZES=10MB,100MB,1GB ./scripts/test -e perf`):",
            "",
            "![MB/s against file size, mixed shape](perf/size.svg)",
            "",
        ]
    return lines


def _lambda(entries: list[Record]) -> list[str]:
    lines = [
        "## Lambda-shaped",
        "",
        f"{LAMBDA_CPUS:.3f} vCPU and {WORKER_MEMORY_MB:,} MB, as the worker function gets them (see Method).",
        "",
    ]
    if not entries:
        return [*lines, "Not measured yet (it needs a machine where the perf layer can make cgroups)."]
    lines += [
        "| Shape | Size | Workers | csvprof MB/s | peak MB | 5 GiB, projected s | Measured |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for e in entries:
        lines.append(
            f"| {e['shape']} | {e['size']} | {e['workers']} | {_tool(e, 'csvprof')} "
            f"| {_tool(e, 'csvprof', 'peak_rss_mb')} | {e['projected_5gib_s']:,.0f} | {e['measured_at']} |"
        )
    return lines


def _five_gib(entry: Record | None, projected: list[Record]) -> list[str]:
    lines = [
        "## 5 GiB through the worker",
        "",
        "`./scripts/test -e perf-5g` (opt-in, not in the gate): a mixed file of 5 GiB (5,368,709,120",
        "bytes, the largest upload) in LocalStack's S3 with its meta `UPLOADED`; the worker's handler",
        "(`csvprof.handlers.worker`) invoked with its SQS record in a subprocess in the Lambda-shaped",
        f"cgroup, its context's remaining time starting at {WORKER_TIMEOUT_S} s. It must end `READY` with",
        f"at least half of the {WORKER_TIMEOUT_S} s left. The tree peak is the whole function's (the",
        "handler, boto3 and the engine), under the Lambda-shaped memory limit.",
        "",
        "The emulator: moto's server reads a whole object into memory for every GET; LocalStack keeps",
        "objects in files, and its hypercorn gateway streams them as the client reads. Its default",
        "twisted gateway does not wait for the client: serving this file it grew to 8-13 GB and reset",
        "the connection after about 100 s, in three runs of four, so perf-5g starts LocalStack with",
        "`GATEWAY_SERVER=hypercorn`.",
        "",
    ]
    if entry is None:
        return [*lines, "Not measured yet."]
    lines += [
        "| Status | Seconds | MB/s | Left of 900 s | Tree peak MB | Workers | Rows | Measured |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| {entry['status']} | {entry['seconds']:,.1f} | {entry['mb_per_s']:.0f} "
        f"| {entry['remaining_s']:,.0f} | {entry['peak_rss_mb']:.0f} | {entry['workers']} "
        f"| {entry['rows']:,} | {entry['measured_at']} |",
    ]
    if entry.get("emulator_peak_rss_mb"):
        served = f"{entry['emulator_peak_rss_mb']:,.0f}"
        lines += ["", f"LocalStack's resident memory while it served the file: at most {served} MB."]
    mixed = [e for e in projected if e["shape"] == "mixed"]
    if mixed:
        best = max(mixed, key=lambda e: parse_size(e["size"]))
        lines += [
            "",
            f"Projected from the Lambda-shaped mixed {best['size']} run: {best['projected_5gib_s']:,.0f} s;",
            f"measured, with S3 over HTTP, the handler and the writes around it: {entry['seconds']:,.0f} s.",
        ]
    return lines


def _hogs(entries: list[Record]) -> list[str]:
    lines = ["## Beside a CPU hog", ""]
    if not entries:
        return [*lines, "Not measured yet."]
    lines += [
        "| Shape | Size | Hogs | Workers | csvprof MB/s | peak MB | Measured |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for e in entries:
        lines.append(
            f"| {e['shape']} | {e['size']} | {e['hogs']} | {e['workers']} | {_tool(e, 'csvprof')} "
            f"| {_tool(e, 'csvprof', 'peak_rss_mb')} | {e['measured_at']} |"
        )
    return lines


def _workers(entries: list[Record]) -> list[str]:
    lines = ["## Workers", ""]
    if not entries:
        return [*lines, "Not measured yet."]
    counts = sorted({int(n) for e in entries for n in e["by_workers"]})
    lines += [
        "csvprof on the mixed shape with `ArrowProfileEngine(workers=N)` (the probe's `--workers N`).",
        "",
        "| Size | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}, MB/s" for n in counts) + " | Measured |",
        "|---|" + "---:|" * len(counts) + "---|",
    ]
    for e in entries:
        cells = [_tool(e["by_workers"], str(n)) for n in counts]
        lines.append(f"| {e['size']} | " + " | ".join(cells) + f" | {e['measured_at']} |")
    return [*lines, "", "![csvprof MB/s against its worker count](perf/workers.svg)"]


def _machines(results: dict[str, Record]) -> list[str]:
    lines = ["## Machines", "", "Each measurement's time above names its run:", ""]
    runs: dict[str, Record] = {}
    for e in results.values():
        runs.setdefault(e["measured_at"], e)
    for stamp in sorted(runs):
        e, m = runs[stamp], runs[stamp]["machine"]
        quota = f"CPU quota {m['cpu_quota']:.2f}" if m.get("cpu_quota") else "no CPU quota"
        libraries = ", ".join(
            f"{name} {m[key]}"
            for key, name in (
                ("pyarrow", "pyarrow"),
                ("numpy", "numpy"),
                ("datasketches", "datasketches"),
                ("duckdb", "duckdb"),
                ("polars", "polars"),
            )
            if m.get(key)
        )
        workers = f" (the engine's default: {m['engine_workers']} workers)" if "engine_workers" in m else ""
        load = m.get("load_average")
        busy = f", load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} when saved" if load else ""
        lines.append(
            f"* **{stamp}** (commit {e.get('commit', 'unknown')}): {m['cpu_model']}, {m['cores_available']} "
            f"cores available, {quota}{workers}{busy}; Python {m['python']}, {libraries}; {m['platform']}; "
            f"memory: {e.get('memory', 'cgroup')}."
        )
    return lines


_COMMANDS = (
    (
        "`./scripts/test -e perf`",
        "the 100 MB matrix, the Lambda-shaped and CPU-hog runs and the gates; prints the table and the "
        "comparison with the previous saved run and saves this one in `.benchmarks/` (gitignored). "
        "`CSVPROF_PERF_SHAPES`, `CSVPROF_PERF_SIZES` (e.g. `100MB,1GB`) and `CSVPROF_PERF_ROUNDS` choose "
        "the matrix",
    ),
    (
        "`./scripts/test -e perf-5g`",
        "the 5 GiB run through the worker (installs and starts LocalStack; about ten minutes)",
    ),
    (
        "`.tox/perf/bin/python -m tests.perf.compare [OLD.json NEW.json]`",
        "the ratio old -> new per shape and size, exit 1 on a regression (default: the two newest "
        "saved runs)",
    ),
    (
        "`.tox/perf/bin/python -m tests.perf.report [RUN.json ...]`",
        "merge saved runs (default: all) into this doc's data, regenerate it and `docs/perf/*.svg`",
    ),
)


def _commands() -> list[str]:
    return ["## Commands", "", "| command | what |", "|---|---|", *(f"| {c} | {w} |" for c, w in _COMMANDS)]


def render(doc: dict[str, Any]) -> str:
    results: dict[str, Record] = doc.get("results", {})
    five = [e for e in results.values() if e["kind"] == "worker5g"]
    lines = [
        "# Performance",
        "",
        "<!-- Generated by `python -m tests.perf.report` from the data block at the end; do not edit by",
        "     hand. The perf layer saves runs under .benchmarks/ and never writes this file. -->",
        "",
        "What csvprof's profiler costs against DuckDB `SUMMARIZE` and Polars `describe()` on the same",
        "seeded files, per shape and size, side by side in the same run: the perf layer",
        "(`tests/perf`, `./scripts/test -e perf`) and the opt-in 5 GiB run (`./scripts/test -e perf-5g`).",
        "",
        _METHOD,
        *_gates(),
        "",
        *_matrix(_by_kind(results, "matrix")),
        "",
        *_lambda(_by_kind(results, "lambda")),
        "",
        *_five_gib(five[0] if five else None, _by_kind(results, "lambda")),
        "",
        *_hogs(_by_kind(results, "hog")),
        "",
        *_workers(_by_kind(results, "workers")),
        "",
        *_machines(results),
        *(["", doc["note"]] if doc.get("note") else []),
        "",
        *_commands(),
        "",
        DATA_START,
        json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True),
        DATA_END,
    ]
    return "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, Any]:
    """The data block of a rendered doc."""
    start = text.index(DATA_START) + len(DATA_START)
    loaded: dict[str, Any] = json.loads(text[start : text.index(DATA_END, start)])
    return loaded


def load() -> dict[str, Any]:
    return parse(MD_PATH.read_text()) if MD_PATH.exists() else {"results": {}}


def merge(doc: dict[str, Any], runs: list[dict[str, Record]]) -> dict[str, Any]:
    """`doc` with each run's measurements merged in by key; the later measurement wins a tie-break."""
    results = dict(doc.get("results", {}))
    for run in runs:
        for key, entry in run.items():
            if key not in results or entry["measured_at"] >= results[key]["measured_at"]:
                results[key] = entry
    return {**doc, "results": dict(sorted(results.items()))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.report", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", type=Path, help="saved runs to merge (default: all)")
    parser.add_argument(
        "--note", help="a paragraph under Machines (how the runs were made), kept until replaced"
    )
    args = parser.parse_args(argv)
    paths = args.runs or saved_runs()
    doc = merge(load(), [load_run(path) for path in paths])
    if args.note is not None:
        doc["note"] = args.note
    MD_PATH.write_text(render(doc))
    for name, draw in plot_files(doc).items():
        draw(PLOTS_DIR / name)
    print(f"{MD_PATH.relative_to(ROOT)}: {len(doc['results'])} measurements from {len(paths)} saved run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
