"""Run checkov on infra/cloudformation offline; fail on any failed check or unexplained suppression.

Prints one line of counts (passed, failed, skipped = suppressed on the resource with a reason),
then each failed check and each suppression with its reason. Exits 1 when a check fails, a
template does not parse, or a suppression has no comment.

Offline: `--skip-download` and BC_SKIP_MAPPING=TRUE keep checkov from asking the platform for
policy metadata, CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE from asking PyPI for a newer version (it does
that when it is imported, so it is set before checkov starts), and no API key means no upload.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "infra" / "cloudformation"
OFFLINE_ENV = {
    "BC_SKIP_MAPPING": "TRUE",
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
    "CKV_IGNORE_HIDDEN_DIRECTORIES": "TRUE",
}
NO_COMMENT = "No comment provided"  # what checkov records for a suppression without one


def run_checkov() -> dict[str, Any] | None:
    checkov = shutil.which("checkov")
    if checkov is None:
        print("checkov: not installed (tox -e checkov installs it)", file=sys.stderr)
        sys.exit(2)
    argv = [
        checkov,
        "--directory", str(TEMPLATES),
        "--framework", "cloudformation",
        "--skip-download",
        "--output", "json",
        "--soft-fail",  # the verdict is ours, from the JSON below
    ]  # fmt: skip
    done = subprocess.run(
        argv, env={**os.environ, **OFFLINE_ENV}, capture_output=True, text=True, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
        print(f"checkov: exited {done.returncode}", file=sys.stderr)
        sys.exit(done.returncode)
    report = json.loads(done.stdout)
    # One framework gives one report; checkov prints a bare summary when it found no file at all.
    if isinstance(report, list):
        [report] = report
    return report if "results" in report else None


def main() -> int:
    templates = sorted(TEMPLATES.glob("*.yaml"))
    report = run_checkov()
    if report is None:
        print(f"checkov: nothing scanned in {TEMPLATES} ({len(templates)} templates)", file=sys.stderr)
        return 1
    summary, results = report["summary"], report["results"]
    failed, skipped = results["failed_checks"], results["skipped_checks"]
    print(
        f"checkov {summary['checkov_version']}: {len(templates)} templates, "
        f"{summary['resource_count']} resources"
    )
    for check in failed:
        print(f"  FAILED  {check['check_id']} {check['file_path'].lstrip('/')} {check['resource']}: "
              f"{check['check_name']}")  # fmt: skip
    unexplained = []
    for check in skipped:
        reason = (check.get("check_result", {}).get("suppress_comment") or "").strip()
        if not reason or reason == NO_COMMENT:
            unexplained.append(check)
        print(f"  skipped {check['check_id']} {check['file_path'].lstrip('/')} {check['resource']}: "
              f"{reason or NO_COMMENT}")  # fmt: skip
    for error in results["parsing_errors"]:
        print(f"  PARSE ERROR {error}")
    print(f"checkov: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped")
    if unexplained:
        print(f"checkov: {len(unexplained)} suppressions without a reason", file=sys.stderr)
    ok = summary["failed"] == 0 and not results["parsing_errors"] and not unexplained
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
