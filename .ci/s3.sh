#!/usr/bin/env bash
# Starts a private S3-compatible server for the tests (moto's server, from
# PyPI) on 127.0.0.1 and prints the endpoint to put in TONGBAN_TEST_S3.
# Idempotent: reuses a running one. It creates no bucket: each test makes
# its own. Any access key is accepted.
#
#   eval "$(.ci/s3.sh)"    # exports TONGBAN_TEST_S3
set -euo pipefail

PORT="${TONGBAN_S3_PORT:-55433}"
DIR="${TONGBAN_S3_DIR:-/tmp/tongban-s3}"
ENDPOINT="http://127.0.0.1:$PORT"

up() {
    python3 - "$ENDPOINT" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=2).read()
PY
}

if ! up; then
    if ! python3 -c 'import moto.server, flask, flask_cors' 2>/dev/null; then
        echo "moto's S3 server not found; installing moto[server]" >&2
        # A system Python that refuses pip's installs (PEP 668) takes them
        # when told to: this machine's Python serves the tests only.
        python3 -m pip install --quiet 'moto[server]>=5,<6' >&2 ||
            python3 -m pip install --quiet --break-system-packages 'moto[server]>=5,<6' >&2
    fi
    mkdir -p "$DIR"
    # Detached from this shell: the server outlives the script, as the
    # PostgreSQL of .ci/postgres.sh does.
    nohup setsid python3 -m moto.server -H 127.0.0.1 -p "$PORT" \
        >"$DIR/server.log" 2>&1 </dev/null &
    echo $! >"$DIR/server.pid"
    for _ in $(seq 1 100); do
        up && break
        sleep 0.2
    done
fi
if ! up; then
    echo "the S3 server did not start on $ENDPOINT; see $DIR/server.log" >&2
    tail -n 20 "$DIR/server.log" >&2 || true
    exit 1
fi
echo "export TONGBAN_TEST_S3=$ENDPOINT"
