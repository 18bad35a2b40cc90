"""docs/performance.md is generated: its text is exactly what its data block renders to."""

from __future__ import annotations

from tests.perf.report import MD_PATH, parse, render


def test_performance_doc_is_rendered_from_its_data() -> None:
    text = MD_PATH.read_text()
    data = parse(text)
    assert render(data) == text
    assert "100MB" in data["results"], "the CI size has been measured at least once"
    for size, result in data["results"].items():
        assert {"cpu_model", "cores_available", "python", "pyarrow"} <= result["machine"].keys(), size
