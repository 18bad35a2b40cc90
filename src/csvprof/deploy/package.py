"""Build the Lambda package: csvprof and its pinned runtime dependencies for linux arm64.

Dependencies come from pyproject.toml's `[project].dependencies` (exact pins), installed
with `pip install --platform manylinux2014_aarch64 --only-binary=:all:` for CPython 3.13,
so the zip matches the functions (python3.13, arm64) whatever machine builds it. The
unzipped size is checked against Lambda's 250 MB limit before anything is uploaded.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from csvprof import limits

# Lambda quota: "Deployment package (.zip file archive) size ... 250 MB (unzipped)".
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1000 * 1000
PLATFORM = "manylinux2014_aarch64"
# python3.13 functions run on Amazon Linux 2023 (glibc 2.34), so manylinux_2_28 wheels work
# there too; pyarrow ships its arm64 wheels only with that tag since version 21.
EXTRA_PLATFORMS = ("manylinux_2_28_aarch64",)
PYTHON_VERSION = limits.LAMBDA_RUNTIME.removeprefix("python")  # "3.13"
# Never shipped: the local emulator and developer tools (csvprof/local), the API client, the
# deploy tooling itself and the CLI.
EXCLUDED_PACKAGES = ("csvprof/local", "csvprof/deploy", "csvprof/client", "csvprof/cli.py")
# The Lambda runtime's own copies are older than the pins, so boto3/botocore are shipped too.
SKIPPED_SUFFIXES = (".pyc",)
SKIPPED_DIRS = ("__pycache__",)

# Pruned from the installed dependencies: nothing the functions import. Without this the
# package is ~241 MB unzipped, uncomfortably close to the limit. Arrow Flight is linked only
# by pyarrow's flight modules (checked with readelf); the rest are tests, headers, sources.
PRUNED_DIRS = ("tests", "include", "__pycache__")
PRUNED_SUFFIXES = (".pxd", ".pyx", ".pxi", ".h", ".hpp", ".cc", ".cpp", ".pyc")
PRUNED_GLOBS = (
    "pyarrow/libarrow_flight.so*",
    "pyarrow/libarrow_python_flight.so*",
    "pyarrow/_flight.*",
    "pyarrow/flight.py",
    "pyarrow/_pyarrow_cpp_tests.*",
)

Runner = Callable[[Sequence[str]], None]


class PackageError(Exception):
    """The package could not be built, or is too large for Lambda."""


@dataclass(frozen=True, slots=True)
class Artifact:
    path: Path
    zipped_bytes: int
    unzipped_bytes: int
    sha256_hex: str
    sha256_b64: str  # what Lambda reports as CodeSha256

    @property
    def key(self) -> str:
        return f"csvprof/lambda-{self.sha256_hex[:16]}.zip"

    def describe(self) -> str:
        share = 100 * self.unzipped_bytes / LAMBDA_UNZIPPED_LIMIT_BYTES
        return (
            f"{self.path.name}: {self.zipped_bytes / 1e6:.1f} MB zipped, {self.unzipped_bytes / 1e6:.1f} MB "
            f"unzipped ({share:.0f} % of Lambda's 250 MB limit)"
        )


def runtime_requirements(pyproject: Path) -> list[str]:
    data = tomllib.loads(pyproject.read_text())
    requirements = data["project"]["dependencies"]
    # The tracer extra pulls in aws-xray-sdk; keep extras as written.
    return [str(r) for r in requirements]


def pip_command(requirements: Sequence[str], target: Path) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--no-compile", "--disable-pip-version-check",
        "--target", str(target),
        "--platform", PLATFORM,
        *(flag for extra in EXTRA_PLATFORMS for flag in ("--platform", extra)),
        "--implementation", "cp",
        "--python-version", PYTHON_VERSION,
        "--only-binary=:all:",
        *requirements,
    ]  # fmt: skip


def _run(command: Sequence[str]) -> None:
    completed = subprocess.run(list(command), check=False, capture_output=True, text=True)
    if completed.returncode != 0:
        raise PackageError(f"pip failed ({completed.returncode}):\n{completed.stderr.strip()[-4000:]}")


def copy_sources(source_root: Path, target: Path) -> None:
    """csvprof's own modules, without the parts Lambda never imports."""
    package = source_root / "csvprof"
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(source_root).as_posix()
        if any(relative == ex or relative.startswith(ex + "/") for ex in EXCLUDED_PACKAGES):
            continue
        if path.is_dir() or path.suffix in SKIPPED_SUFFIXES or any(p in SKIPPED_DIRS for p in path.parts):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def prune(root: Path) -> int:
    """Delete what the functions never load from the installed dependencies; returns bytes freed."""
    doomed: set[Path] = set()
    for pattern in PRUNED_GLOBS:
        doomed.update(root.glob(pattern))
    for path in root.rglob("*"):
        nested_dir = path.is_dir() and path.name in PRUNED_DIRS and path.parent != root
        if nested_dir or (path.is_file() and path.suffix in PRUNED_SUFFIXES):
            doomed.add(path)
    freed = 0
    for path in sorted(doomed, key=lambda p: len(p.parts)):
        if not path.exists():
            continue  # inside a directory already removed
        if path.is_dir():
            freed += tree_size(path)
            shutil.rmtree(path)
        else:
            freed += path.stat().st_size
            path.unlink()
    return freed


def tree_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def write_zip(root: Path, out: Path) -> None:
    """A reproducible zip: sorted entries, fixed timestamps and permissions."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def digest(path: Path) -> tuple[str, str]:
    sha = hashlib.sha256(path.read_bytes())
    return sha.hexdigest(), base64.b64encode(sha.digest()).decode("ascii")


def build(
    project_root: Path,
    out: Path,
    *,
    work_dir: Path,
    run: Runner = _run,
    limit_bytes: int = LAMBDA_UNZIPPED_LIMIT_BYTES,
) -> Artifact:
    """Build `out` (a zip) from the project at `project_root`; raise PackageError when too large."""
    staging = work_dir / "package"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    run(pip_command(runtime_requirements(project_root / "pyproject.toml"), staging))
    prune(staging)
    copy_sources(project_root / "src", staging)
    unzipped = tree_size(staging)
    if unzipped > limit_bytes:
        raise PackageError(
            f"the package is {unzipped / 1e6:.1f} MB unzipped, over Lambda's "
            f"{limit_bytes / 1e6:.0f} MB limit; trim dependencies or move some to a layer"
        )
    write_zip(staging, out)
    sha_hex, sha_b64 = digest(out)
    return Artifact(out, out.stat().st_size, unzipped, sha_hex, sha_b64)
