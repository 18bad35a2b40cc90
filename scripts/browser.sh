#!/usr/bin/env bash
# Headless Chromium for the browser tests (tox -e browser): Debian's package, installed only when
# missing. CI runs as root on Debian with access to Debian's mirror; elsewhere, install chromium
# yourself (or set CSVPROF_CHROMIUM to its path) and the tests use it.
set -euo pipefail
if [ -n "${CSVPROF_CHROMIUM:-}" ] && [ -x "${CSVPROF_CHROMIUM}" ]; then
    echo "chromium: ${CSVPROF_CHROMIUM}"
    exit 0
fi
if command -v chromium >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null || true))"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing and cannot be installed here (needs root and apt-get); the browser tests will skip" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
echo "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null || true))"
