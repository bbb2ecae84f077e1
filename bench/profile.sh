#!/usr/bin/env bash
# Where a token check's time goes: perf with DWARF call graphs on the dist (fat-LTO) server during a
# 32-connection GET /user run (SQLite, one tenant, one user), then the server's share by function,
# children included. bench/README.md ("Latest figures") quotes its output.
#
#   bench/profile.sh [SECONDS]      needs perf (Debian's linux-perf) and wrk; run as root
# Environment: PORT (19080), BENCH_NO_BUILD, TOP (how many functions to print, 40).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PROFILED=${1:-5}
PORT=${PORT:-19080}
BIN=${CARGO_TARGET_DIR:-$PWD/target}/dist/gatehouse
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --locked --profile dist -p gatehouse >&2
WORK=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export GATEHOUSE_MASTER_KEY=${GATEHOUSE_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}
cat >"$WORK/profile.toml" <<TOML
[server]
bind = "127.0.0.1:$PORT"
metrics_bind = ""
admin_bind = ""
workers = $(nproc)
max_in_flight_per_ip = 0
[database]
url = "sqlite://$WORK/profile.db"
[tenants]
bootstrap = []
TOML
gh() { RUST_LOG=warn "$BIN" --config "$WORK/profile.toml" "$@" >/dev/null; }
gh tenant create bench --host localhost
gh tenant set bench BCRYPT_COST 4
gh tenant set bench PASSWORD_HASH bcrypt
gh user create --tenant bench --email bench@example.com --password bench-password
RUST_LOG=warn "$BIN" --config "$WORK/profile.toml" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/user/auth" -H 'Host: localhost' \
  -H 'Content-Type: application/json' -d '{"username":"bench@example.com","password":"bench-password"}' |
  sed -E 's/.*"token":"([^"]+)".*/\1/')
load() { wrk -t2 -c32 -d"$1" -H 'Host: localhost' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/user"; }
load 3s >/dev/null # warm
perf record -q -F 400 --call-graph dwarf,16384 -p "$SERVER" -o "$WORK/perf.data" -- sleep "$SECONDS_PROFILED" 2>/dev/null &
PERF=$!
load "$((SECONDS_PROFILED + 1))s" | grep -E 'Requests/sec|Non-2xx' >&2 || true
wait "$PERF"
echo "share of the server's samples, children included (user-space functions):"
perf report -i "$WORK/perf.data" --children --sort sym --stdio -g none 2>/dev/null |
  awk '/^ +[0-9.]+%/ && !/\[k\]/' | head -"${TOP:-40}"
