#!/usr/bin/env bash
# The operator console and API at scale (issue 15): 10,000 tenants and 100,000 users in one of
# them, then the latency of the console's tenants page (a search and the first page), the API's
# tenant list, and user search in the 100,000-user tenant (console page and API; also its worst
# cases: a prefix every user has, and the last page), on SQLite and
# PostgreSQL. Prints a markdown table (median and p95 of N requests each, curl's time_total).
#
#   bench/operator.sh                 BENCH_PROFILE=dev by default (say so when quoting figures)
#   TENANTS=1000 USERS=10000 N=10 bench/operator.sh   smaller, for a quick look
# Environment: BENCH_PROFILE (dev), BENCH_PG (postgres://postgres@127.0.0.1:5432/test; off),
# TENANTS (10000), USERS (100000), N (30), PORT (18180), BENCH_NO_BUILD (use the binary as built).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PROFILE=${BENCH_PROFILE:-dev}
TENANTS=${TENANTS:-10000}
USERS=${USERS:-100000}
N=${N:-30}
PORT=${PORT:-18180}
ADMIN=$((PORT + 2))
PG_ADMIN=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
export GATEHOUSE_MASTER_KEY=${GATEHOUSE_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}
export GATEHOUSE_PASSWORD=bench-password

if [ -z "${BENCH_NO_BUILD:-}" ]; then
  echo "bench: building ($PROFILE profile)" >&2
  cargo build --profile "$PROFILE" -p gatehouse >&2
fi
case "$PROFILE" in dev) OUTDIR=debug ;; *) OUTDIR=$PROFILE ;; esac
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$OUTDIR/gatehouse

WORK=$(mktemp -d)
PIDS=()
PG_DBS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "${PG_DBS[@]}"; do psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# median and p95 (ms) of the time_total values (seconds) on stdin
stats() { python3 -c 'import sys,statistics
v=sorted(float(x)*1000 for x in sys.stdin.read().split())
print(f"{statistics.median(v):.1f} | {v[min(len(v)-1,int(len(v)*0.95))]:.1f}")'; }

# N timed GETs of $1 with extra curl arguments after it
timed() {
  local url=$1; shift
  for _ in $(seq 1 "$N"); do
    curl -s -o /dev/null -w '%{time_total}\n' "$@" "$url"
  done | stats
}

run_backend() {
  local backend=$1 url
  case "$backend" in
    sqlite) url="sqlite://$WORK/op.db" ;;
    postgres)
      local name="gatehouse_opbench_$$"
      psql "$PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
      PG_DBS+=("$name")
      url="${PG_ADMIN%/*}/$name" ;;
  esac
  local cfg=$WORK/op-$backend.toml
  cat >"$cfg" <<TOML
[server]
bind = "127.0.0.1:$PORT"
metrics_bind = ""
admin_bind = "127.0.0.1:$ADMIN"
shutdown_timeout_seconds = 1
[database]
url = "$url"
[tenants]
patterns = ["api.{tenant}.localhost"]
refresh_seconds = 5
bootstrap = []
TOML
  local t0=$SECONDS
  "$BIN" --config "$cfg" tenant seed --count "$TENANTS" --prefix t- --set BCRYPT_COST=4 >&2
  "$BIN" --config "$cfg" user seed --tenant t-00042 --count "$USERS" --cost 4 --prefix user --domain bench.test >&2
  local key
  key=$("$BIN" --config "$cfg" operator key create --name bench 2>/dev/null)
  echo "bench: $backend seeded in $((SECONDS - t0)) s" >&2
  RUST_LOG=warn "$BIN" --config "$cfg" serve >"$WORK/serve-$backend.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$ADMIN/admin/v1/openapi.json" >/dev/null && break; sleep 0.5; done
  # A console session: the sign-in form's CSRF cookie, then the operator key.
  local jar=$WORK/jar-$backend csrf
  curl -s -c "$jar" -o /dev/null "http://127.0.0.1:$ADMIN/console/signin"
  csrf=$(awk '$6 == "gh_console_signin" {print $7}' "$jar")
  curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" --data-urlencode "key=$key" \
    "http://127.0.0.1:$ADMIN/console/signin/operator"
  local a="http://127.0.0.1:$ADMIN"
  # Warm up once each.
  curl -s -o /dev/null -b "$jar" "$a/console/tenants"
  curl -s -o /dev/null -H "Authorization: Bearer $key" "$a/admin/v1/tenants/t-00042/users?q=user99"
  echo "| $backend: console tenants page (first 50 of $TENANTS) | $(timed "$a/console/tenants" -b "$jar") |"
  echo "| $backend: console tenants search \`q=t-0999\` | $(timed "$a/console/tenants?q=t-0999" -b "$jar") |"
  echo "| $backend: API \`GET /admin/v1/tenants?q=t-0999\` | $(timed "$a/admin/v1/tenants?q=t-0999" -H "Authorization: Bearer $key") |"
  echo "| $backend: console user search \`q=user9999\` ($USERS users) | $(timed "$a/console/tenants/t-00042/users?q=user9999" -b "$jar") |"
  echo "| $backend: API user search \`q=user9999\` | $(timed "$a/admin/v1/tenants/t-00042/users?q=user9999" -H "Authorization: Bearer $key") |"
  echo "| $backend: API users, first page (no q) | $(timed "$a/admin/v1/tenants/t-00042/users" -H "Authorization: Bearer $key") |"
  # The worst cases of a prefix search and of offset pages: a prefix every user has (all
  # $USERS rows match and are sorted for the first page), and the last page of the list.
  echo "| $backend: API user search \`q=user\` (matches all $USERS) | $(timed "$a/admin/v1/tenants/t-00042/users?q=user" -H "Authorization: Bearer $key") |"
  echo "| $backend: API users, last page (\`offset=$((USERS - 50))\`, no q) | $(timed "$a/admin/v1/tenants/t-00042/users?offset=$((USERS - 50))" -H "Authorization: Bearer $key") |"
  echo "| $backend: server RSS after the run | $(ps -o rss= -p "${PIDS[-1]}" | awk '{printf "%.0f MiB", $1/1024}') | |"
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
}

echo "$PROFILE build, $(nproc) cores; $TENANTS tenants, $USERS users in one; $N requests each"
echo
echo "| what | median ms | p95 ms |"
echo "| --- | --- | --- |"
run_backend sqlite
if [ "$PG_ADMIN" != off ]; then run_backend postgres; fi
