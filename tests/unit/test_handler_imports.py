"""Importing a handler module has no side effects and the API stays light at cold start."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import os, sys
for key in [k for k in os.environ if k.startswith(("CSVPROF_", "AWS_"))]:
    del os.environ[key]
import {module}
print(",".join(sorted(m for m in ("pyarrow", "numpy", "datasketches", "moto") if m in sys.modules)))
"""


@pytest.mark.parametrize(
    ("module", "heavy"),
    [
        ("csvprof.handlers.api", ""),
        ("csvprof.handlers.worker", "datasketches,numpy,pyarrow"),
        ("csvprof.handlers.reconciler", ""),
    ],
)
def test_import_needs_no_configuration_and_loads_only_what_the_function_uses(module: str, heavy: str) -> None:
    # A fresh interpreter with no csvprof or AWS settings: import must still succeed (no
    # client or env read at import), and only the worker pulls in the data libraries.
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == heavy
