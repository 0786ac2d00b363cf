#!/usr/bin/env bash
# Starts a private PostgreSQL cluster for the tests on 127.0.0.1 and prints
# the URL to put in TONGBAN_TEST_POSTGRES. Idempotent: reuses a running one.
#
#   eval "$(.ci/postgres.sh)"    # exports TONGBAN_TEST_POSTGRES
set -euo pipefail

PORT="${TONGBAN_PG_PORT:-55432}"
DIR="${TONGBAN_PG_DIR:-/tmp/tongban-pg}"

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
    echo "PostgreSQL server not found; installing it" >&2
    apt-get install -y -q postgresql >&2
    BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
fi

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg() {
    if [ "$(id -u)" = "0" ]; then
        su postgres -s /bin/bash -c "$*"
    else
        bash -c "$*"
    fi
}

# A cluster left by a killed run recovers first, which can outlast
# pg_ctl's default minute: wait up to five.
if ! "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
    if [ ! -f "$DIR/PG_VERSION" ]; then
        mkdir -p "$DIR"
        [ "$(id -u)" = "0" ] && chown postgres:postgres "$DIR"
        as_pg "'$BIN/initdb' -D '$DIR' -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null"
    fi
    as_pg "'$BIN/pg_ctl' -D '$DIR' -l '$DIR/server.log' -w -t 300 -o \"-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200\" start >/dev/null"
fi
"$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"
echo "export TONGBAN_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PORT/postgres"
