#!/usr/bin/env bash
# Backs up one tongban hub into a new directory, consistently, while it runs.
#
#   TONGBAN_DATA_DIR=/var/lib/tongban [TONGBAN_DATABASE=postgres://...] deploy/backup.sh DEST
#
# What DEST holds (owner-only, 0700):
#   database.pgdump  pg_dump --format=custom of TONGBAN_DATABASE (PostgreSQL), or
#   tongban.db       a consistent copy of the SQLite database (VACUUM INTO: one
#                    read transaction, so a running hub's WAL is included)
#   blobs/           the local blob directory, copied after the database: every
#                    blob the database copy names is already there (blobs are
#                    written before the rows that name them)
#   keys/            the key store: secret key files, audit-pin.json
#   tls/             the node's TLS material, if any
#   MANIFEST         what was backed up, when, by which tongban; SHA256SUMS the files
#
# Not in it: the key-encryption key (TONGBAN_KEK_FILE). Secrets sealed in the
# database open only with it: keep it apart from this backup (a safe, an HSM,
# the secret store), never beside it. Blobs in S3 (TONGBAN_S3_BUCKET) are
# not copied by this script: copy the bucket with `tongban blobs copy` or the
# object store's own replication, after the database dump.
set -euo pipefail
umask 077

die() { echo "backup: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: TONGBAN_DATA_DIR=DIR [TONGBAN_DATABASE=URL] $0 DEST"
dest=$1
data=${TONGBAN_DATA_DIR:-}
database=${TONGBAN_DATABASE:-}
tongban=${TONGBAN_BIN:-tongban}
[ -n "$data" ] || die "TONGBAN_DATA_DIR is not set"
[ -d "$data" ] || die "$data: no such data directory"
if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
    die "$dest exists and is not empty: nothing written"
fi
mkdir -p "$dest"
chmod 700 "$dest"

case "$database" in
    postgres://*|postgresql://*)
        backend=postgres
        pg_dump --format=custom --no-owner --no-privileges --dbname="$database" \
            --file="$dest/database.pgdump"
        ;;
    *)
        backend=sqlite
        db=${database#sqlite:}
        db=${db:-$data/tongban.db}
        [ -f "$db" ] || die "$db: no SQLite database"
        # A path with a quote cannot be given to VACUUM INTO safely.
        case "$dest" in *"'"*) die "$dest: a path with a quote" ;; esac
        sqlite3 "file:$db?mode=ro" "VACUUM INTO '$dest/tongban.db'"
        chmod 600 "$dest/tongban.db"
        ;;
esac

# After the database: blobs only ever gain files the database then names.
# Staging files (`<digest>#<n>`) of writes in flight are left behind.
for dir in blobs keys tls; do
    if [ -d "$data/$dir" ]; then
        tar -C "$data" --exclude='*#*' -cf - "$dir" | tar -C "$dest" -xpf -
    fi
done
[ -n "${TONGBAN_S3_BUCKET:-}" ] &&
    echo "backup: blobs are in S3 bucket $TONGBAN_S3_BUCKET: copy them with 'tongban blobs copy' (not done here)" >&2

{
    echo "tongban backup"
    echo "made: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "backend: $backend"
    echo "tongban: $("$tongban" --version 2>/dev/null || echo unknown)"
    echo "data-dir: $data"
    echo "kek: not included (TONGBAN_KEK_FILE is kept apart)"
} > "$dest/MANIFEST"
sums=$(cd "$dest" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
printf '%s\n' "$sums" > "$dest/SHA256SUMS"
echo "backed up the $backend hub in $data to $dest ($(du -sh "$dest" | cut -f1))"
