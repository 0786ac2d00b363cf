#!/usr/bin/env bash
# Tests deploy/backup.sh and deploy/restore.sh once, end to end, on SQLite and
# on PostgreSQL (TONGBAN_TEST_POSTGRES, an administrator's URL; .ci/run sets
# it): a hub is made, a licence with an attachment issued, the hub backed up
# and restored into another data directory (and another, fresh database);
# the restored copy's audit log verifies, the licence verifies on it online
# and, exported again, offline against the original anchor with its
# attachment, `tongban doctor` finds every blob, and it issues again. A
# tampered backup and a non-empty target are refused.
#
#   TONGBAN_TEST_POSTGRES=postgres://postgres@127.0.0.1:55432/postgres deploy/test-backup.sh [TONGBAN_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${1:-$root/target/debug/tongban}
[ -x "$bin" ] || { echo "test-backup: $bin: build it first (cargo build -p tongban)" >&2; exit 1; }
export TONGBAN_BIN=$bin

MARKET=11440114MB2C00007U
passed=0
failed=0
work=$(mktemp -d)
databases=()
cleanup() {
    for db in "${databases[@]}"; do
        psql --no-psqlrc -qX --dbname="$TONGBAN_TEST_POSTGRES" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

check() { # NAME COMMAND...: one check, counted
    local name=$1; shift
    if "$@" >"$work/out" 2>"$work/err"; then
        passed=$((passed + 1)); echo "ok   $name"
    else
        failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$work/out" "$work/err" | tail -20
    fi
}
refused() { ! "$@"; }
json_is() { # FILE PYTHON-EXPR: the expression over the JSON `j` is true
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# tongban on hub DATA with database DB (empty: the embedded SQLite).
hub() {
    local data=$1 db=$2; shift 2
    if [ -n "$db" ]; then
        TONGBAN_DATA_DIR=$data TONGBAN_DATABASE=$db "$bin" "$@"
    else
        env -u TONGBAN_DATABASE TONGBAN_DATA_DIR="$data" "$bin" "$@"
    fi
}
with_env() { # DATA DB SCRIPT ARG: run a deploy script against that hub
    local data=$1 db=$2 script=$3 arg=$4
    if [ -n "$db" ]; then
        TONGBAN_DATA_DIR=$data TONGBAN_DATABASE=$db "$script" "$arg"
    else
        env -u TONGBAN_DATABASE TONGBAN_DATA_DIR="$data" "$script" "$arg"
    fi
}

# A fresh PostgreSQL database; its URL.
new_database() {
    local name="tongban_backup_$1_$$"
    psql --no-psqlrc -qX --dbname="$TONGBAN_TEST_POSTGRES" -c "CREATE DATABASE $name" >/dev/null
    databases+=("$name")
    echo "${TONGBAN_TEST_POSTGRES%/*}/$name"
}

python3 - "$root" "$work/request.json" <<'PY'
import json, sys
root, out = sys.argv[1], sys.argv[2]
data = json.load(open(f"{root}/schemas/licence-types/examples/business-licence.json"))
json.dump({
    "type": "11100000TB0000001K001",
    "holder": {"name": "广州花都鸿睿启航电子科技有限公司", "codeType": "001", "code": "91440114MA5TB0A01K"},
    "data": data,
    "serviceItem": {"code": "440114-SCJG-0001", "name": "有限责任公司设立登记"},
}, open(out, "w"), ensure_ascii=False)
PY
printf '%%PDF-1.7 licence rendered for the backup test\n' > "$work/render.pdf"

export_licence() { # DATA DB ID OUT
    hub "$1" "$2" licence export "$3" --out "$4" --requester 银行 --use-cause 开立对公账户
}
verify_offline() { # EXPORT-DIR ANCHOR
    "$bin" --data-dir "$work/nowhere" --json licence verify "$1/licence.json" \
        --trust "$1/trust.json" --anchor "$2" --attachment "$1/attachment.pdf" > "$work/offline.json" &&
        json_is "$work/offline.json" 'j["valid"] is True'
}

run() { # BACKEND SOURCE-DB TARGET-DB
    local backend=$1 src_db=$2 dst_db=$3
    local dir="$work/$backend"
    local data="$dir/hub" restored="$dir/restored" backup="$dir/backup"
    mkdir -p "$dir"
    echo "== $backend"
    hub "$data" "$src_db" init >/dev/null
    hub "$data" "$src_db" --json licence issue --issuer "$MARKET" \
        --request "$work/request.json" --attachment "$work/render.pdf" > "$dir/issued.json"
    local id
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["licence"]["identifier"])' "$dir/issued.json")
    export_licence "$data" "$src_db" "$id" "$dir/export" >/dev/null
    local anchor
    anchor=$(tr -d '[:space:]' < "$dir/export/anchor.txt")

    check "$backend: backup.sh" with_env "$data" "$src_db" deploy/backup.sh "$backup"
    check "$backend: the backup is owner-only" test "$(stat -c %a "$backup")" = 700
    check "$backend: a second backup into the same place is refused" \
        refused with_env "$data" "$src_db" deploy/backup.sh "$backup"
    check "$backend: restore into the hub's own (non-empty) data directory is refused" \
        refused with_env "$data" "$src_db" deploy/restore.sh "$backup"
    cp -a "$backup" "$dir/tampered"
    local blob
    blob=$(find "$dir/tampered/blobs" -type f | head -n1)
    printf 'x' >> "$blob"
    check "$backend: a tampered backup is refused" \
        refused with_env "$dir/never" "$dst_db" deploy/restore.sh "$dir/tampered"
    check "$backend: nothing was restored from it" test ! -e "$dir/never"

    check "$backend: restore.sh" with_env "$restored" "$dst_db" deploy/restore.sh "$backup"
    check "$backend: the restored audit log verifies" hub "$restored" "$dst_db" audit verify
    check "$backend: doctor finds the database whole and every blob" hub "$restored" "$dst_db" doctor
    # shellcheck disable=SC2016 # expanded by the inner shell
    check "$backend: the licence verifies online on the restored copy" \
        bash -c 'hub "$@" > "$0" && json_is "$0" "j[\"valid\"] is True"' "$dir/online.json" \
        "$restored" "$dst_db" --json licence verify "$dir/export/licence.json"
    # shellcheck disable=SC2016 # expanded by the inner shell
    check "$backend: exported from the restored copy, it verifies offline with its attachment against the original anchor" \
        bash -c 'export_licence "$1" "$2" "$3" "$4" && verify_offline "$4" "$5"' _ \
        "$restored" "$dst_db" "$id" "$dir/export-restored" "$anchor"
    check "$backend: the restored hub issues with its restored keys" \
        hub "$restored" "$dst_db" --json licence issue --issuer "$MARKET" --request "$work/request.json"
}
export -f hub with_env json_is export_licence verify_offline
export bin work

run sqlite "" ""
if [ -n "${TONGBAN_TEST_POSTGRES:-}" ]; then
    run postgres "$(new_database src)" "$(new_database dst)"
else
    echo "SKIPPED: the PostgreSQL backup (pg_dump, pg_restore): set TONGBAN_TEST_POSTGRES" >&2
    [ -z "${CI:-}" ] || { echo "CI must run it" >&2; failed=$((failed + 1)); }
fi
echo "backup: $passed passed, $failed failed"
[ "$failed" = 0 ]
