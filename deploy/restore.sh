#!/usr/bin/env bash
# Restores a backup made by deploy/backup.sh into an empty data directory
# and, for PostgreSQL, an empty database. Stop the hub's nodes first.
#
#   TONGBAN_DATA_DIR=/var/lib/tongban [TONGBAN_DATABASE=postgres://...] deploy/restore.sh SRC
#
# Refuses, changing nothing, when the backup's checksums do not match, the
# data directory holds a database or keys, or the database holds tables.
# Then: put the KEK file back (TONGBAN_KEK_FILE) if the hub seals secrets,
# and check with `tongban doctor` and `tongban audit verify`.
set -euo pipefail
umask 077

die() { echo "restore: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: TONGBAN_DATA_DIR=DIR [TONGBAN_DATABASE=URL] $0 SRC"
src=$1
data=${TONGBAN_DATA_DIR:-}
database=${TONGBAN_DATABASE:-}
[ -n "$data" ] || die "TONGBAN_DATA_DIR is not set"
if [ ! -f "$src/MANIFEST" ] || [ ! -f "$src/SHA256SUMS" ]; then
    die "$src: not a backup (no MANIFEST, SHA256SUMS)"
fi
(cd "$src" && sha256sum --quiet --strict -c SHA256SUMS) >&2 || die "$src: checksums do not match: nothing restored"
backend=$(sed -n 's/^backend: //p' "$src/MANIFEST")

for dir in tongban.db blobs keys; do
    [ -e "$data/$dir" ] && die "$data/$dir exists: restore into an empty data directory (nothing restored)"
done

case "$database" in
    postgres://*|postgresql://*)
        [ "$backend" = postgres ] || die "the backup is of a $backend hub, TONGBAN_DATABASE is PostgreSQL"
        tables=$(psql --no-psqlrc -qtAX --dbname="$database" \
            -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") ||
            die "cannot reach the database"
        [ "$tables" = 0 ] || die "the database holds $tables tables: restore into an empty one (nothing restored)"
        mkdir -p "$data"
        chmod 700 "$data"
        pg_restore --no-owner --no-privileges --exit-on-error --single-transaction \
            --dbname="$database" "$src/database.pgdump"
        ;;
    *)
        [ "$backend" = sqlite ] || die "the backup is of a $backend hub: set TONGBAN_DATABASE to an empty PostgreSQL database"
        db=${database#sqlite:}
        db=${db:-$data/tongban.db}
        [ -e "$db" ] && die "$db exists (nothing restored)"
        mkdir -p "$data" "$(dirname "$db")"
        chmod 700 "$data"
        install -m 0600 "$src/tongban.db" "$db"
        ;;
esac

for dir in blobs keys tls; do
    if [ -d "$src/$dir" ]; then
        tar -C "$src" -cf - "$dir" | tar -C "$data" -xpf -
        chmod 700 "$data/$dir"
    fi
done
echo "restored the $backend hub of $src into $data${database:+ and its database}"
echo "next: the KEK file, if the hub seals secrets; then tongban doctor; tongban audit verify"
