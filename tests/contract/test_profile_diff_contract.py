"""The diff's JSON validates against contracts/profile-diff.schema.json: what `compare` really
emits for real profiles of generated files, and what `csvprof diff --json` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csvprof.cli import main
from csvprof.contracts.profile import Profile
from csvprof.diff import Thresholds, compare
from tests.support.contracts import assert_valid
from tests.support.drift import EXAMPLES, generated, nulls, reshaped, scaled


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    return generated(tmp_path_factory.mktemp("base"), 1)


@pytest.mark.parametrize(
    "edit",
    [None, scaled("amount", 2.0), reshaped, nulls("comment", 0.5)],
    ids=["same-distribution", "planted-shift", "schema-changes", "null-jump"],
)
def test_what_compare_emits_for_real_profiles_is_valid(base: Profile, edit: object, tmp_path: Path) -> None:
    new = generated(tmp_path, 2, edit)  # type: ignore[arg-type]
    for thresholds in (Thresholds(), Thresholds(psi_warn=None, psi_fail=None, ks_warn=0.01)):
        assert_valid("profile-diff", compare(base, new, thresholds).to_dict())


def test_what_the_cli_prints_with_json_is_valid(
    base: Profile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(base.to_dict()))
    new.write_text(json.dumps(generated(tmp_path, 2, scaled("amount", 2.0)).to_dict()))
    assert main(["diff", str(old), str(new), "--json"]) == 2
    assert_valid("profile-diff", json.loads(capsys.readouterr().out))


def test_the_pass_examples_are_the_code_s_output() -> None:
    """The pass examples were written by `python -m tests.support.drift`: same keys, same verdicts."""
    for path in sorted(EXAMPLES.glob("*.pass.json")):
        body = json.loads(path.read_text())
        expected = {"identical": "none", "planted-shift": "fail", "schema-changes": "fail"}
        assert body["verdict"] == expected.get(path.name.removesuffix(".pass.json"), body["verdict"])
        assert list(body) == ["schema_version", "old", "new", "thresholds", "verdict", "findings", "columns"]
