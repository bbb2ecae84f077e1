#!/usr/bin/env bash
# Import rate (issue 13): COUNT users in tiledesk-server's `mongoexport` shape (JSON lines, relaxed
# Extended JSON) through `gatehouse import tiledesk`, on SQLite and PostgreSQL, then the export of
# the same tenant. Every record carries one fixed, well-formed `$2a$10$` hash, so making the file
# costs no bcrypt (the importer never hashes anyway; the hash is checked for shape only).
#
#   bench/import.sh [COUNT]      COUNT defaults to 1,000,000
# Environment: BENCH_PROFILE (dist, the fat-LTO profile; `dev` for a quick debug figure), BENCH_PG
# (postgres://postgres@127.0.0.1:5432/test, `off` for SQLite only).
# Prints one line a backend: seconds, users a second, peak RSS of the importer.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
PROFILE=${BENCH_PROFILE:-dist}
PG_ADMIN=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
export GATEHOUSE_MASTER_KEY=${GATEHOUSE_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}
HASH='$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'

cargo build --locked --profile "$PROFILE" -p gatehouse >&2
case "$PROFILE" in dev) OUTDIR=debug ;; *) OUTDIR=$PROFILE ;; esac
BIN=${CARGO_TARGET_DIR:-$PWD/target}/$OUTDIR/gatehouse

WORK=$(mktemp -d)
PG_DB=""
cleanup() {
  [ -n "$PG_DB" ] && psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "bench: writing $COUNT users" >&2
awk -v n="$COUNT" -v h="$HASH" 'BEGIN {
  for (i = 1; i <= n; i++)
    printf "{\"_id\":{\"$oid\":\"5f00000000000000%08x\"},\"email\":\"user%d@bench.test\",\"password\":\"%s\",\"firstname\":\"User\",\"lastname\":\"%d\",\"emailverified\":true,\"status\":100,\"createdAt\":{\"$date\":\"2021-01-01T00:00:00.000Z\"},\"updatedAt\":{\"$date\":\"2021-01-01T00:00:00.000Z\"},\"__v\":0}\n", i, i, h, i
}' >"$WORK/users.json"
SIZE=$(du -m "$WORK/users.json" | cut -f1)

run() { # backend url
  local cfg=$WORK/$1.toml
  printf '[database]\nurl = "%s"\n[tenants]\nbootstrap = []\n' "$2" >"$cfg"
  RUST_LOG=warn "$BIN" --config "$cfg" tenant create bench >/dev/null
  local start end rss
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$WORK/rss" \
    env RUST_LOG=warn "$BIN" --config "$cfg" import tiledesk --tenant bench --users "$WORK/users.json" >&2
  end=$(date +%s.%N)
  rss=$(cat "$WORK/rss")
  local secs
  secs=$(echo "$end - $start" | bc)
  local estart eend
  estart=$(date +%s.%N)
  RUST_LOG=warn "$BIN" --config "$cfg" export --tenant bench --out "$WORK/export-$1.jsonl" >&2
  eend=$(date +%s.%N)
  printf '%s: imported %s users (%s MB file) in %.1f s = %.0f users/s, importer peak RSS %d MiB; export %.1f s (%s profile)\n' \
    "$1" "$COUNT" "$SIZE" "$secs" "$(echo "$COUNT / $secs" | bc -l)" "$((rss / 1024))" \
    "$(echo "$eend - $estart" | bc)" "$PROFILE"
}

run sqlite "sqlite://$WORK/import.db"
if [ "$PG_ADMIN" != off ]; then
  PG_DB="gatehouse_bench_import_$$"
  psql "$PG_ADMIN" -qc "CREATE DATABASE $PG_DB" >/dev/null
  run postgres "${PG_ADMIN%/*}/$PG_DB"
fi
