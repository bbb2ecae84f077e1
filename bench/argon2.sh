#!/usr/bin/env bash
# argon2id sign-in rate and memory (issue 13 item 5), beside bcrypt cost 10 on the same build:
#   bench/argon2.sh [SECONDS]      # default 10 s a scenario; BENCH_PROFILE=dist for the fat-LTO build,
#                                  # BENCH_BIN=path to measure a binary already built
# One SQLite database, tenants `a2` (PASSWORD_HASH=argon2id, OWASP m=19456 KiB, t=2, p=1) and `bc`
# (bcrypt cost 10), one user each; wrk signs in on 8 connections through both dialects. RSS is read
# from /proc (VmRSS idle, VmHWM = the largest RSS the process ever had). Needs wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
PROFILE=${BENCH_PROFILE:-debug}
TARGET=${CARGO_TARGET_DIR:-target}
if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN # a binary already built (its profile is BENCH_PROFILE's label)
elif [ "$PROFILE" = release ] || [ "$PROFILE" = dist ]; then
  cargo build --profile "$PROFILE" -p gatehouse >&2
  BIN=$TARGET/$PROFILE/gatehouse
else
  cargo build -p gatehouse >&2
  BIN=$TARGET/debug/gatehouse
fi
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 1; }
NPROC=$(nproc)
PORT=${BENCH_PORT:-$((20000 + RANDOM % 20000))}
WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PASSWORD=bench-password-1
CFG=$WORK/argon2.toml
cat >"$CFG" <<TOML
[server]
bind = "127.0.0.1:$PORT"
metrics_bind = ""
workers = $NPROC
shutdown_timeout_seconds = 1
max_in_flight_per_ip = 0
[database]
url = "sqlite://$WORK/argon2.db"
[hashing]
threads = $NPROC
tenant_share = $NPROC
[tenants]
bootstrap = []
TOML
gh() { RUST_LOG=warn "$BIN" --config "$CFG" "$@"; }
for t in a2 bc; do
  gh tenant create "$t" --host "$t.bench.test" >/dev/null
  gh tenant set "$t" SIGNIN_FAILURES_PER_IP_PER_MINUTE 0 >/dev/null
  gh user create --tenant "$t" --email user@example.com --password "$PASSWORD" >/dev/null
done
gh tenant set bc PASSWORD_HASH bcrypt >/dev/null
gh tenant set bc BCRYPT_COST 10 >/dev/null
# bc's user was hashed under argon2id (the default) before the switch: its first sign-in re-hashes.
RUST_LOG=warn "$BIN" --config "$CFG" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -X POST "http://127.0.0.1:$PORT/v1/auth/signin" -H "Host: bc.bench.test" \
  -H 'Content-Type: application/json' -d "{\"email\":\"user@example.com\",\"password\":\"$PASSWORD\"}" >/dev/null
sleep 1
kib() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER/status"; }
mib() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1024 }'; }
IDLE=$(kib VmRSS)
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")
LUA
run() { # label host path body
  WRK_BODY=$4 wrk -t2 -c8 -d"${SECS}s" --timeout 10s --latency -s "$WORK/post.lua" -H "Host: $2" \
    "http://127.0.0.1:$PORT$3" >"$WORK/out" 2>&1 || true
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/out")
  p50=$(awk '$1 == "50%" { print $2 }' "$WORK/out")
  p99=$(awk '$1 == "99%" { print $2 }' "$WORK/out")
  bad=$(awk '/Non-2xx/ { print $NF }' "$WORK/out")
  printf '| %s | %s | %s / %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "${bad:-0}" "$(mib "$(kib VmHWM)")"
  sleep 1
}
AM="{\"username\":\"user@example.com\",\"password\":\"$PASSWORD\"}"
TD="{\"email\":\"user@example.com\",\"password\":\"$PASSWORD\"}"
echo "bench/argon2.sh: $PROFILE build, $NPROC cores, $NPROC hashing threads, 8 connections, ${SECS} s a scenario, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
echo
echo "| scenario | sign-ins/s | p50 / p99 | non-2xx | peak RSS so far (MiB) |"
echo "| --- | ---: | --- | ---: | ---: |"
printf '| idle after start | - | - | - | %s (VmRSS) |\n' "$(mib "$IDLE")"
run "argon2id m=19456 t=2 p=1, \`POST /user/auth\`" a2.bench.test /user/auth "$AM"
run "argon2id m=19456 t=2 p=1, \`POST /v1/auth/signin\`" a2.bench.test /v1/auth/signin "$TD"
run "bcrypt cost 10, \`POST /user/auth\`" bc.bench.test /user/auth "$AM"
run "bcrypt cost 10, \`POST /v1/auth/signin\`" bc.bench.test /v1/auth/signin "$TD"
