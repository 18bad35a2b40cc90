"""Run cfn-lint on infra/cloudformation, or say plainly that there is nothing to lint yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "infra" / "cloudformation"


def main() -> int:
    templates = sorted(str(p) for p in TEMPLATES.glob("*.yaml"))
    if not templates:
        print(f"cfn-lint: no templates in {TEMPLATES} yet; nothing to lint")
        return 0
    return subprocess.call(["cfn-lint", *templates])


if __name__ == "__main__":
    sys.exit(main())
