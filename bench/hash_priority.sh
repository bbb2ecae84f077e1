#!/usr/bin/env bash
# Token-check latency while cost-10 sign-ins keep every hashing thread busy, for several values of
# `[hashing] nice` (issue 10: "GET /user p99 while cost-10 sign-ins saturate hashing"), in one run:
# the same scenario as bench/run.sh's `get_user_under_signins` (32 connections signing in, 4 making
# token checks), on SQLite, one server per value.
#
#   bench/hash_priority.sh                 # nice 0 5 10, 15 s each, dist build
#   NICES="0 10" DURATION=30 bench/hash_priority.sh
# Environment: NICES, DURATION (seconds), BENCH_PROFILE (dist), BENCH_NO_BUILD, PORT (18280).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NICES=${NICES:-0 5 10}
DURATION=${DURATION:-15}
PROFILE=${BENCH_PROFILE:-dist}
PORT=${PORT:-18280}
PASSWORD=bench-password
export GATEHOUSE_MASTER_KEY=${GATEHOUSE_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 1; }
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  cargo build --locked --profile "$PROFILE" -p gatehouse >&2
fi
case "$PROFILE" in dev) OUTDIR=debug ;; *) OUTDIR=$PROFILE ;; esac
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$OUTDIR/gatehouse
NPROC=$(nproc)
WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")
LUA
# wrk's summary: requests/s, p99 (ms) and non-2xx responses.
summary() { # file
  awk '/Requests\/sec/ { rps = $2 }
       /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) sub(/ms$/, "", v);
                  else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } p99 = v }
       /Non-2xx/ { bad = $NF }
       END { printf "%s %s %d\n", rps, (p99 == "" ? "-" : p99), bad }' "$1"
}

echo "| [hashing] nice | GET /user p99 ms (4 conns) | GET /user req/s | cost-10 sign-ins/s (32 conns) | sign-in non-2xx |"
echo "| ---: | ---: | ---: | ---: | ---: |"
for nice in $NICES; do
  DB="$WORK/n$nice.db"
  CFG=$WORK/n$nice.toml
  cat >"$CFG" <<TOML
[server]
bind = "127.0.0.1:$PORT"
metrics_bind = "127.0.0.1:$((PORT + 1))"
admin_bind = "127.0.0.1:$((PORT + 2))"
workers = $NPROC
max_in_flight_per_ip = 0
[database]
url = "sqlite://$DB"
[hashing]
tenant_share = $NPROC
nice = $nice
[tenants]
bootstrap = []
TOML
  gh() { RUST_LOG=warn "$BIN" --config "$CFG" "$@" >/dev/null; }
  gh tenant create bench --host localhost
  gh tenant set bench BCRYPT_COST 10
  gh tenant set bench PASSWORD_HASH bcrypt
  gh tenant set bench SIGNIN_MAX_FAILURES 1000000
  gh tenant set bench SIGNIN_FAILURES_PER_IP_PER_MINUTE 0
  gh user create --tenant bench --email bench@example.com --password "$PASSWORD"
  RUST_LOG=warn "$BIN" --config "$CFG" serve >"$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  LOGIN="{\"username\":\"bench@example.com\",\"password\":\"$PASSWORD\"}"
  TOKEN=$(curl -s -H 'Host: localhost' -H 'Content-Type: application/json' -d "$LOGIN" \
    "http://127.0.0.1:$PORT/user/auth" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  WRK_BODY=$LOGIN wrk -t1 -c32 -d"${DURATION}s" --timeout 10s -H "Host: localhost" -s "$WORK/post.lua" \
    "http://127.0.0.1:$PORT/user/auth" >"$WORK/signins.wrk" 2>&1 &
  SAT=$!
  sleep 1
  wrk -t"$NPROC" -c4 -d"$((DURATION - 2))s" --latency -H "Host: localhost" -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT/user" >"$WORK/checks.wrk" 2>&1
  wait "$SAT" || true
  read -r crps cp99 _ < <(summary "$WORK/checks.wrk")
  read -r srps _ sbad < <(summary "$WORK/signins.wrk")
  echo "| $nice | $cp99 | $crps | $srps | $sbad |"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
