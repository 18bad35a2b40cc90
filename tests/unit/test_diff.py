"""`csvprof.diff`: drift verdicts on real profiles of generated files, and `csvprof diff`'s exit codes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from csvprof.cli import EXIT_DIFF_USAGE, main
from csvprof.contracts.profile import Profile
from csvprof.diff import Severity, Thresholds, compare, psi, render_text
from tests.support.drift import generated, nulls, reshaped, scaled

NUMERIC = ("id", "amount", "quantity")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    return generated(tmp_path_factory.mktemp("base"), 1)


@pytest.fixture(scope="module")
def same(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    """Another seed of the same distribution."""
    return generated(tmp_path_factory.mktemp("same"), 2)


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    return generated(tmp_path_factory.mktemp("shifted"), 2, scaled("amount", 2.0))


def by_name(diff_columns: tuple[object, ...]) -> dict[str, object]:
    return {c.name: c for c in diff_columns}  # type: ignore[attr-defined]


def psis(old: Profile, new: Profile) -> dict[str, float]:
    return {c.name: c.shift.psi for c in compare(old, new).columns if c.shift is not None}


def test_identical_profiles_have_no_drift(base: Profile) -> None:
    diff = compare(base, base)
    assert diff.verdict is Severity.NONE
    assert diff.findings == ()
    assert all(c.shift is None or c.shift.psi == 0 for c in diff.columns)


def test_another_seed_of_the_same_distribution_stays_below_warn(base: Profile, same: Profile) -> None:
    diff = compare(base, same)
    assert diff.verdict is Severity.NONE, render_text(diff)
    found = psis(base, same)
    assert set(NUMERIC) <= set(found)
    assert max(found.values()) < Thresholds().psi_warn / 5  # type: ignore[operator]


def test_a_planted_shift_fails_on_that_column_only(base: Profile, shifted: Profile) -> None:
    diff = compare(base, shifted)
    assert diff.verdict is Severity.FAIL
    assert [(f.kind, f.column) for f in diff.findings] == [("psi", "amount")]
    found = psis(base, shifted)
    assert found["amount"] > Thresholds().psi_fail  # type: ignore[operator]
    assert all(v < 0.05 for name, v in found.items() if name != "amount")
    amount = by_name(diff.columns)["amount"]
    assert amount.shift.ks.statistic > 0.2  # type: ignore[attr-defined]


def test_a_constant_offset_is_caught_too(base: Profile, tmp_path: Path) -> None:
    moved = generated(tmp_path, 2, scaled("quantity", 1.0, add=100))
    assert psis(base, moved)["quantity"] > 0.25
    assert compare(base, moved).verdict is Severity.FAIL


def test_removed_added_and_retyped_columns(base: Profile, tmp_path: Path) -> None:
    diff = compare(base, generated(tmp_path, 2, reshaped))
    kinds = {(f.kind, f.column): f.severity for f in diff.findings}
    assert kinds[("column_removed", "uuid")] is Severity.FAIL
    assert kinds[("column_added", "channel")] is Severity.WARN
    assert kinds[("column_retyped", "active")] is Severity.FAIL
    assert kinds[("new_top_values", "active")] is Severity.WARN
    assert diff.verdict is Severity.FAIL
    assert [c.name for c in diff.columns][-1] == "uuid"  # removed ones after NEW's columns


def test_a_null_rate_jump(base: Profile, tmp_path: Path) -> None:
    diff = compare(base, generated(tmp_path, 2, nulls("comment", 0.5)))
    (finding,) = [f for f in diff.findings if f.kind == "null_rate"]
    assert (finding.column, finding.severity, finding.threshold) == ("comment", Severity.FAIL, 0.2)
    assert finding.value == pytest.approx(0.47, abs=0.02)
    relaxed = compare(base, generated(tmp_path, 2, nulls("comment", 0.5)), Thresholds(null_rate_fail=None))
    assert relaxed.verdict is Severity.WARN


def test_reordered_columns_warn(base: Profile) -> None:
    swapped = (base.columns[1], base.columns[0], *base.columns[2:])
    reordered = replace(base, columns=tuple(replace(c, index=i) for i, c in enumerate(swapped)))
    diff = compare(base, reordered)
    assert [(f.kind, f.severity) for f in diff.findings] == [("columns_reordered", Severity.WARN)]


def test_psi_of_known_shares() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * 2 * 0.5493061443, rel=1e-6)
    assert psi([1.0, 0.0], [0.0, 1.0]) > 10  # an empty bin is floored, not infinite


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="psi_warn"):
        Thresholds(psi_warn=0.3, psi_fail=0.2)
    with pytest.raises(ValueError, match="≥ 0"):
        Thresholds(distinct_warn=-1)


# --- the command ---------------------------------------------------------------------------


def write(path: Path, profile: Profile) -> str:
    path.write_text(json.dumps(profile.to_dict()))
    return str(path)


def test_exit_codes_gate_a_pipeline(
    base: Profile, same: Profile, shifted: Profile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, quiet, loud = (write(tmp_path / n, p) for n, p in (("o", base), ("q", same), ("l", shifted)))
    assert main(["diff", old, quiet]) == 0
    assert "verdict: NONE" in capsys.readouterr().out
    assert main(["diff", old, loud]) == 2
    assert "FAIL  amount: PSI" in capsys.readouterr().out
    # A PSI fail threshold out of reach: the shift only warns, which --fail-on warn turns into 2.
    assert main(["diff", old, loud, "--psi-fail", "off"]) == 1
    assert main(["diff", old, loud, "--psi-fail", "off", "--fail-on", "warn"]) == 2
    assert main(["diff", old, loud, "--psi-warn", "off", "--psi-fail", "off"]) == 0


def test_usage_and_input_errors_exit_3_on_one_line(
    base: Profile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write(tmp_path / "o.json", base)
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "meta.json").write_text('{"status": "READY"}')
    cases = [
        [old, str(tmp_path / "missing.json")],
        [old, str(tmp_path / "bad.json")],
        [old, str(tmp_path / "meta.json")],
        [old, old, "--psi-warn", "0.5", "--psi-fail", "0.3"],
    ]
    for argv in cases:
        assert main(["diff", *argv]) == EXIT_DIFF_USAGE, argv
        err = capsys.readouterr().err
        assert err.startswith("csvprof: "), err
        assert err.count("\n") == 1, err
    with pytest.raises(SystemExit) as exited:
        main(["diff", old, "--psi-warn", "x"])
    assert exited.value.code == EXIT_DIFF_USAGE
    assert capsys.readouterr().err.count("\n") == 1
