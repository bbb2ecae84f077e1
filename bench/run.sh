#!/usr/bin/env bash
# Load benchmark: starts a release build of gatehouse on a scratch database, then drives it with
# wrk (Debian package `wrk`). Usage: bench/run.sh [sqlite|postgres] [duration, default 10s]
# Figures go to bench/README.md by hand, with the command line and the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:-sqlite}
DURATION=${2:-10s}
CONNS=${CONNS:-16}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)" >&2; exit 1; }

cargo build --release --locked --bin gatehouse >/dev/null
BIN=target/release/gatehouse
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

case "$BACKEND" in
  sqlite) DB="sqlite://$WORK/bench.db" ;;
  postgres)
    NAME="gatehouse_bench_$$"
    psql postgres://postgres@127.0.0.1:5432/test -qc "CREATE DATABASE $NAME" >/dev/null
    DB="postgres://postgres@127.0.0.1:5432/$NAME" ;;
  *) echo "bench: backend is sqlite or postgres" >&2; exit 2 ;;
esac

cat > "$WORK/bench.toml" <<TOML
[server]
bind = "127.0.0.1:$PORT"
metrics_bind = "127.0.0.1:$((PORT + 1))"
# wrk's connections all come from one address.
max_in_flight_per_ip = 0
[database]
url = "$DB"
[tenants]
[[tenants.bootstrap]]
slug = "demo"
hosts = ["localhost", "127.0.0.1"]
apis = ["tiledesk", "appmixer"]
settings = { SIGNUP_PER_IP_PER_MINUTE = "0", SIGNIN_MAX_FAILURES = "1000000" }
[[tenants.bootstrap]]
slug = "fast"
hosts = ["fast.localhost"]
settings = { SIGNUP_PER_IP_PER_MINUTE = "0", BCRYPT_COST = "4" }
TOML

RUST_LOG=warn $BIN --config "$WORK/bench.toml" serve &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
$BIN --config "$WORK/bench.toml" user create --tenant demo --email bench@example.com --password bench-password >/dev/null
$BIN --config "$WORK/bench.toml" user create --tenant fast --email bench@example.com --password bench-password >/dev/null
TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/user/auth" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')

run() { # name, host, wrk args...
  local name=$1 host=$2; shift 2
  echo "== $name"
  wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Host: $host" "$@" | grep -E 'Requests/sec|Latency  |50%|99%|Non-2xx|Socket errors'
}

cat > "$WORK/signin.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.com","password":"bench-password"}'
LUA
cat > "$WORK/signup.lua" <<'LUA'
-- Unique emails across wrk's threads: each thread numbers its own requests.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  n = 0
end
function request()
  n = n + 1
  local body = string.format('{"username":"u%d-%d","email":"u%d-%d@example.com","password":"bench-password"}',
    tid, n, tid, n)
  return wrk.format("POST", "/user", {["Content-Type"] = "application/json"}, body)
end
LUA
cat > "$WORK/tdsignin.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"bench@example.com","password":"bench-password"}'
LUA

echo "backend=$BACKEND duration=$DURATION connections=$CONNS cpus=$(nproc)"
run "GET /healthz (no tenant, no database)" localhost "http://127.0.0.1:$PORT/healthz"
run "GET /user (token check + one query)" localhost -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/user"
run "POST /user/auth at BCRYPT_COST 4" fast.localhost -s "$WORK/signin.lua" "http://127.0.0.1:$PORT/user/auth"
run "POST /user (signup) at BCRYPT_COST 4" fast.localhost -s "$WORK/signup.lua" "http://127.0.0.1:$PORT/user"
run "POST /user/auth at BCRYPT_COST 10" localhost -s "$WORK/signin.lua" "http://127.0.0.1:$PORT/user/auth"
sleep 3  # let the hashing queue drain: requests already queued are still hashed after wrk stops
run "POST /v1/auth/signin at BCRYPT_COST 10" localhost -s "$WORK/tdsignin.lua" "http://127.0.0.1:$PORT/v1/auth/signin"
sleep 3
echo "== healthz latency while sign-ins saturate the hashing pool (cost 10)"
wrk -t1 -c"$CONNS" -d"$DURATION" -H "Host: localhost" -s "$WORK/signin.lua" "http://127.0.0.1:$PORT/user/auth" >/dev/null &
LOAD=$!
sleep 1
wrk -t1 -c2 -d5s --latency "http://127.0.0.1:$PORT/healthz" | grep -E 'Requests/sec|50%|99%'
wait $LOAD || true
curl -s "http://127.0.0.1:$((PORT + 1))/metrics" | grep -E '^gatehouse_signins_total' || true
if [ "$BACKEND" = postgres ]; then
  kill $SERVER; wait $SERVER 2>/dev/null || true
  psql postgres://postgres@127.0.0.1:5432/test -qc "DROP DATABASE $NAME" >/dev/null
fi
