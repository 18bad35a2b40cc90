#!/usr/bin/env bash
# LocalStack without Docker, for the e2e-localstack layer.
#
#   scripts/localstack.sh install   # pinned localstack-core into .localstack/venv (Python 3.13), cached
#   scripts/localstack.sh start     # install if needed, start on 127.0.0.1:4566 (or LOCALSTACK_ENDPOINT's
#                                   # host:port), wait for /_localstack/health
#   scripts/localstack.sh stop      # stop the instance this script started (by its recorded pid)
#   scripts/localstack.sh status    # print the health document, exit 1 when it is not up
#
# LocalStack here runs S3, SQS, EventBridge, CloudWatch, SNS, SSM and CloudFormation for
# those; Lambda needs Docker and API Gateway v2 / CodeDeploy are Pro-only (see
# docs/deployment-strategy.md for what is verified where).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${LOCALSTACK_HOME:-$ROOT/.localstack}"
VENV="$DIR/venv"
PIDFILE="$DIR/localstack.pid"
LOG="$DIR/localstack.log"
ENDPOINT="${LOCALSTACK_ENDPOINT:-http://127.0.0.1:4566}"
START_TIMEOUT_S="${LOCALSTACK_START_TIMEOUT_S:-120}"
# Pinned: the version this layer was proven on, and the pins it needs to import at all.
PACKAGES=("localstack-core[runtime]==2026.3.0" "cbor2<6" "pyopenssl<26" "localstack-twisted<26")
STAMP="${PACKAGES[*]}"

die() { echo "localstack.sh: $*" >&2; exit 1; }

find_python() {
    local candidate root
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root)"
        for candidate in $(ls -d "$root"/versions/3.13.* 2>/dev/null | sort -V -r); do
            if [ -x "$candidate/bin/python3.13" ]; then echo "$candidate/bin/python3.13"; return 0; fi
        done
    fi
    if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys' >/dev/null 2>&1; then
        command -v python3.13; return 0
    fi
    return 1
}

install() {
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.csvprof-pins" 2>/dev/null)" = "$STAMP" ]; then
        echo "localstack.sh: using cached $VENV"
        return 0
    fi
    local py
    py="$(find_python)" || die "Python 3.13 is required for LocalStack: none in \$(pyenv root)/versions/3.13.* and no python3.13 on PATH. Install it (e.g. 'pyenv install 3.13') and retry."
    echo "localstack.sh: installing ${PACKAGES[*]} into $VENV with $py"
    rm -rf "$VENV"
    mkdir -p "$DIR"
    "$py" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "${PACKAGES[@]}"
    echo "$STAMP" > "$VENV/.csvprof-pins"
}

healthy() {
    "$VENV/bin/python" - "$ENDPOINT" <<'PY'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1] + "/_localstack/health", timeout=2) as r:
        doc = json.load(r)
except Exception:
    sys.exit(1)
services = doc.get("services", {})
need = ("s3", "sqs", "events", "cloudwatch", "sns", "ssm", "cloudformation")
sys.exit(0 if all(services.get(s) in ("available", "running") for s in need) else 1)
PY
}

start() {
    install
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        die "already running (pid $(cat "$PIDFILE")); run '$0 stop' first"
    fi
    if healthy; then die "something already answers on $ENDPOINT; refusing to share it"; fi
    mkdir -p "$DIR/data"
    echo "localstack.sh: starting LocalStack (log: $LOG)"
    # Without Docker: the runtime in this process, path-style SQS URLs, no TLS cert download,
    # no analytics; SQS reports its own CloudWatch metrics every 10 s so SQS alarms can fire;
    # Pro-only resource types (dashboard, event archive) are accepted without being created,
    # which the e2e tests know and say (tests/e2e_localstack/test_deployed_resources.py).
    (
        cd "$DIR"
        exec env OVERRIDE_IN_DOCKER=0 DNS_ADDRESS=0 GATEWAY_LISTEN="${ENDPOINT#*://}" \
            SQS_ENDPOINT_STRATEGY=path SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 \
            SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL=10 \
            CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=1 \
            LOCALSTACK_VOLUME_DIR="$DIR/data" \
            "$VENV/bin/python" -m localstack.runtime.main
    ) >"$LOG" 2>&1 &
    echo $! > "$PIDFILE"
    local deadline=$((SECONDS + START_TIMEOUT_S))
    until healthy; do
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            tail -n 40 "$LOG" >&2
            rm -f "$PIDFILE"
            die "LocalStack exited during start-up (log above)"
        fi
        if [ $SECONDS -ge $deadline ]; then
            tail -n 40 "$LOG" >&2
            stop
            die "LocalStack not healthy within ${START_TIMEOUT_S}s"
        fi
        sleep 0.5  # polling interval of a deadline-bounded wait
    done
    echo "localstack.sh: ready at $ENDPOINT (pid $(cat "$PIDFILE"))"
}

stop() {
    [ -f "$PIDFILE" ] || { echo "localstack.sh: not running (no $PIDFILE)"; return 0; }
    local pid
    pid="$(cat "$PIDFILE")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$PIDFILE"
    echo "localstack.sh: stopped (pid $pid)"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) if healthy; then echo "up at $ENDPOINT"; else echo "down"; exit 1; fi ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
