"""docs/performance.md is generated: its text is exactly what its data block renders to."""

from __future__ import annotations

from tests.perf.matrix import MIN_RATIO
from tests.perf.report import MD_PATH, PLOTS_DIR, parse, plot_files, render


def test_performance_doc_is_rendered_from_its_data() -> None:
    text = MD_PATH.read_text()
    data = parse(text)
    assert render(data) == text


def test_every_shape_has_been_measured_at_the_ci_size_with_its_machine() -> None:
    results = parse(MD_PATH.read_text())["results"]
    measured = {r["shape"] for r in results.values() if r["kind"] == "matrix" and r["size"] == "100MB"}
    assert measured == set(MIN_RATIO), "run the perf layer, then python -m tests.perf.report"
    for key, result in results.items():
        assert {"cpu_model", "cores_available", "python", "pyarrow"} <= result["machine"].keys(), key
        assert result["measured_at"], key


def test_the_doc_links_every_plot_its_data_draws_and_each_exists() -> None:
    text = MD_PATH.read_text()
    names = list(plot_files(parse(text)))
    assert names, "the data has points to plot"
    for name in names:
        assert f"](perf/{name})" in text, name
        svg = (PLOTS_DIR / name).read_text()
        assert svg.lstrip().startswith("<?xml"), name
        assert "<svg" in svg, name
