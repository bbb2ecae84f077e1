#!/usr/bin/env bash
# Gatehouse's load benchmark: one command, one table (see bench/README.md).
#
#   bench/run.sh            the full run (minutes; seeds 1,000,000 users per backend): the figures
#   bench/run.sh smoke      seconds, a dev build and small numbers: proves the script (CI may run it)
#   bench/run.sh tokens     a minute: only the bare route and the token checks (GET /user, GET /v1/users)
#                           on both backends, for working on the hot path (dist build)
#   bench/run.sh soak 600   mixed traffic in both dialects over several tenants for 600 s, with the
#                           gateway's PostgreSQL connections killed twice: 5xx outside the faults,
#                           requests lost, time to recover, RSS and p99 every minute
#
# In one run: a bare actix-web route and raw bcrypt verifications a second (the Rust crate, C's
# crypt_r, Node's bcrypt when installed) as the ceilings, then Gatehouse on SQLite and PostgreSQL.
# Prints one markdown table and writes it as JSON (bench/results.json; smoke: bench/results-smoke.json).
# Load generator: wrk (Debian's `wrk`, installed with apt-get when missing and run as root).
# Environment: BENCH_PROFILE (dist: the fat-LTO profile of Cargo.toml; smoke: dev), BENCH_PG (postgres://postgres@127.0.0.1:5432/test,
# `off` for SQLite only), CONNS, DURATION, SEED_BIG, PORT, BARE_PORT, SOAK_SLICE (60), SOAK_FAULTS (2),
# BENCH_NO_BUILD.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-full}
NPROC=$(nproc)
case "$MODE" in
  smoke) DURATION=${DURATION:-1s}; CONNS=${CONNS:-8}; SEED_BIG=${SEED_BIG:-5000}; SEED_SMALL=1000
         HASH_SECONDS=0.5; PROFILE=${BENCH_PROFILE:-dev}; RESULTS=bench/results-smoke.json ;;
  full)  DURATION=${DURATION:-15s}; CONNS=${CONNS:-32}; SEED_BIG=${SEED_BIG:-1000000}; SEED_SMALL=1000
         HASH_SECONDS=10; PROFILE=${BENCH_PROFILE:-dist}; RESULTS=bench/results.json ;;
  tokens) DURATION=${DURATION:-10s}; CONNS=${CONNS:-32}; SEED_BIG=0; SEED_SMALL=0
         HASH_SECONDS=0; PROFILE=${BENCH_PROFILE:-dist}; RESULTS=bench/results-tokens.json ;;
  soak)  SOAK_SECONDS=${2:?usage: bench/run.sh soak SECONDS}; CONNS=${CONNS:-32}
         SOAK_SLICE=${SOAK_SLICE:-60}; PROFILE=${BENCH_PROFILE:-dist} ;;
  *) echo "usage: bench/run.sh [smoke | tokens | soak SECONDS]" >&2; exit 2 ;;
esac
PORT=${PORT:-18080}
BARE_PORT=${BARE_PORT:-18090}
PG_ADMIN=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
PASSWORD=bench-password
# One master key for every node and CLI call of the run (PostgreSQL refuses to start without one).
export GATEHOUSE_MASTER_KEY=${GATEHOUSE_MASTER_KEY:-$(head -c 32 /dev/urandom | base64)}

# ---- tools ----
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "bench: installing wrk" >&2
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
  else
    echo "bench: needs wrk (apt-get install wrk)" >&2; exit 1
  fi
fi
# BENCH_NO_BUILD=1 uses the binaries already in the target directory (soak needs only gatehouse).
if [ -z "${BENCH_NO_BUILD:-}" ]; then
  echo "bench: building ($PROFILE profile)" >&2
  cargo build --locked --profile "$PROFILE" -p gatehouse -p gatehouse-bench >&2
fi
case "$PROFILE" in dev) OUTDIR=debug ;; *) OUTDIR=$PROFILE ;; esac
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/$OUTDIR
BIN=$BIN_DIR/gatehouse

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

# ---- results: a key/value file, turned into the table and the JSON at the end ----
KV=$WORK/results.kv
: >"$KV"
put() { echo "$1 $2" >>"$KV"; }
get() { awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$KV"; }

# wrk output -> rps, p50 (ms), p99 (ms), non-2xx, socket errors, under a key prefix.
parse_wrk() { # prefix file
  awk -v p="$1" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    / requests in / { reqs = $1 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(",", ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%s.requests %d\n%s.rps %.1f\n%s.p50_ms %.2f\n%s.p99_ms %.2f\n%s.non2xx %d\n%s.socket_errors %d\n",
            p, reqs + 0, p, rps, p, p50, p, p99, p, bad + 0, p, errs + 0 }' "$2" >>"$KV"
}

# wrk scripts: a POST with the body from $WRK_BODY; signups numbered per thread.
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")
LUA

load() { # key host path conns duration [wrk args...]
  local key=$1 host=$2 path=$3 conns=$4 dur=$5; shift 5
  local threads=$(( conns < NPROC ? conns : NPROC ))
  wrk -t"$threads" -c"$conns" -d"$dur" --timeout 10s --latency -H "Host: $host" "$@" \
    "http://127.0.0.1:$PORT$path" >"$WORK/$key.wrk" 2>&1 || true
  parse_wrk "$key" "$WORK/$key.wrk"
  printf '  %-28s %10s req/s  p50 %8s ms  p99 %8s ms  non-2xx %s\n' "$key" "$(get "$key.rps")" \
    "$(get "$key.p50_ms")" "$(get "$key.p99_ms")" "$(get "$key.non2xx")" >&2
}
signin_load() { # key host path conns duration body
  WRK_BODY=$6 load "$1" "$2" "$3" "$4" "$5" -s "$WORK/post.lua"
  sleep 1 # requests queued for hashing when wrk stopped are dropped, the in-flight ones finish
}

rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

wait_ready() { # pid
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return 0
    kill -0 "$1" 2>/dev/null || { echo "bench: the server exited" >&2; cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench: the server did not get ready" >&2; exit 1
}

token() { # host path body -> the token field
  curl -sf -X POST "http://127.0.0.1:$PORT$2" -H "Host: $1" -H 'Content-Type: application/json' -d "$3" |
    sed -E 's/.*"token":"([^"]+)".*/\1/'
}

# ---- a database and a config for one backend ----
setup_backend() { # backend -> sets CFG and DB_URL
  case "$1" in
    sqlite) DB_URL="sqlite://$WORK/bench-$RANDOM.db" ;;
    postgres)
      local name="gatehouse_bench_$$_$RANDOM"
      psql "$PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
      PG_DBS+=("$name")
      DB_URL="${PG_ADMIN%/*}/$name" ;;
  esac
  CFG=$WORK/bench-$1.toml
  cat >"$CFG" <<TOML
[server]
bind = "127.0.0.1:$PORT"
metrics_bind = "127.0.0.1:$((PORT + 1))"
admin_bind = "127.0.0.1:$((PORT + 2))"
workers = $NPROC
shutdown_timeout_seconds = 1
# wrk's connections all come from one address, and one scenario holds 1,000 of them open.
max_in_flight_per_ip = 0
max_connections_per_worker = 1024
[database]
url = "$DB_URL"
# A one-tenant measure of the machine's bcrypt rate: that tenant may use every hashing thread
# (the default share is half, so that one tenant never holds them all; see README).
[hashing]
tenant_share = $NPROC
[tenants]
bootstrap = []
TOML
}

gh() { RUST_LOG=warn "$BIN" --config "$CFG" "$@"; }

# A tenant for the bench: per-IP limits off through their settings, so every figure counts 200s.
# SIGNIN_FAILURES_PER_IP_PER_MINUTE is not known to every build yet: its absence is noted, not fatal.
bench_tenant() { # slug cost host...
  local slug=$1 cost=$2; shift 2
  local hosts=()
  for h in "$@"; do hosts+=(--host "$h"); done
  gh tenant create "$slug" "${hosts[@]}" >/dev/null
  gh tenant set "$slug" BCRYPT_COST "$cost" >/dev/null
  # New tenants hash with argon2id; these figures are bcrypt's (bench/argon2.sh measures argon2id).
  gh tenant set "$slug" PASSWORD_HASH bcrypt >/dev/null
  gh tenant set "$slug" SIGNUP_PER_IP_PER_MINUTE 0 >/dev/null
  gh tenant set "$slug" SIGNIN_MAX_FAILURES 1000000 >/dev/null
  if ! gh tenant set "$slug" SIGNIN_FAILURES_PER_IP_PER_MINUTE 0 >/dev/null 2>&1; then
    PER_IP_FAILURES_SETTING=absent
  fi
}

start_server() { # -> SERVER pid
  RUST_LOG=warn "$BIN" --config "$CFG" serve >"$WORK/server.log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  wait_ready "$SERVER"
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }

# ---- soak ----
if [ "$MODE" = soak ]; then
  setup_backend postgres 2>/dev/null || { echo "bench: soak runs on PostgreSQL ($PG_ADMIN)" >&2; exit 1; }
  PER_IP_FAILURES_SETTING=set
  bench_tenant soak-a 10 a.soak.localhost
  bench_tenant soak-b 4 b.soak.localhost
  bench_tenant soak-c 4 c.soak.localhost
  for t in a b c; do gh user create --tenant "soak-$t" --email "soak@example.com" --password "$PASSWORD" >/dev/null; done
  start_server
  TOKENS=""
  for t in a b c; do
    am=$(token "$t.soak.localhost" /user/auth "{\"username\":\"soak@example.com\",\"password\":\"$PASSWORD\"}")
    td=$(token "$t.soak.localhost" /v1/auth/signin "{\"email\":\"soak@example.com\",\"password\":\"$PASSWORD\"}")
    TOKENS="$TOKENS$t.soak.localhost|Bearer $am|$td;"
    [ "$t" = b ] && PROBE_AUTH=$td
  done
  cat >"$WORK/soak.lua" <<'LUA'
-- Mixed traffic over the tenants in $SOAK_TENANTS ("host|bearer|jwt;..."): token checks, sign-ins,
-- wrong passwords and signups in both dialects. Counts responses by class per thread.
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
local tenants = {}
function init(args)
  for host, bearer, jwt in string.gmatch(os.getenv("SOAK_TENANTS"), "([^|;]+)|([^|;]+)|([^|;]+);") do
    table.insert(tenants, { host = host, bearer = bearer, jwt = jwt })
  end
  n, c2, c4, c5 = 0, 0, 0, 0
  fives = {}
end
local pw = os.getenv("SOAK_PASSWORD")
local function json(host, path, body)
  return wrk.format("POST", path, { ["Host"] = host, ["Content-Type"] = "application/json" }, body)
end
function request()
  n = n + 1
  local t = tenants[(n % #tenants) + 1]
  local k = n % 20
  if k < 12 then
    if k % 2 == 0 then return wrk.format("GET", "/user", { ["Host"] = t.host, ["Authorization"] = t.bearer }) end
    return wrk.format("GET", "/v1/users", { ["Host"] = t.host, ["Authorization"] = t.jwt })
  elseif k == 12 then return json(t.host, "/user/auth", '{"username":"soak@example.com","password":"' .. pw .. '"}')
  elseif k == 13 then return json(t.host, "/v1/auth/signin", '{"email":"soak@example.com","password":"' .. pw .. '"}')
  elseif k == 14 then return json(t.host, "/user/auth", '{"username":"soak@example.com","password":"wrong-password"}')
  elseif k == 15 then return json(t.host, "/v1/auth/signin", '{"email":"soak@example.com","password":"wrong-password"}')
  elseif k == 16 then
    return json(t.host, "/user", string.format('{"username":"s%d-%d-%d","email":"s%d-%d-%d@example.com","password":"%s"}',
      os.time(), tid, n, os.time(), tid, n, pw))
  elseif k == 17 then
    return json(t.host, "/v1/auth/signup", string.format('{"email":"t%d-%d-%d@example.com","password":"%s","firstname":"S","lastname":"K"}',
      os.time(), tid, n, pw))
  else
    return wrk.format("GET", "/user", { ["Host"] = t.host, ["Authorization"] = t.bearer })
  end
end
-- 5xx are also counted per second (Unix time), so that those inside a fault window can be told
-- from those outside it.
function response(status, headers, body)
  if status >= 500 then
    c5 = c5 + 1
    local s = os.time()
    fives[s] = (fives[s] or 0) + 1
  elseif status >= 400 then c4 = c4 + 1 else c2 = c2 + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("c2"); b = b + t:get("c4"); c = c + t:get("c5")
    for s, k in pairs(t:get("fives")) do io.write(string.format("fivexx %d %d\n", s, k)) end
  end
  io.write(string.format("classes 2xx=%d 4xx=%d 5xx=%d\n", a, b, c))
end
LUA
  # Faults: at a third and at two thirds of the run, every connection the gateway holds to its
  # database (the pool and the change listener) is killed with pg_terminate_backend. A probe then
  # asks for its projects (Tiledesk GET /v1/projects on soak-b: a tenant's query through the pool,
  # no hashing) every 50 ms until it gets a 200; the fault window is from the kill to that 200,
  # and the time to recover is its length.
  PG_DB=${DB_URL##*/}
  SOAK_FAULTS=${SOAK_FAULTS:-2}
  fault() { # n at_seconds
    sleep "$2"
    local t0 t1 killed code
    t0=$(date +%s.%N)
    killed=$(psql "$PG_ADMIN" -qAtc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
      WHERE datname = '$PG_DB' AND pid <> pg_backend_pid()")
    while :; do
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/v1/projects" \
        -H 'Host: b.soak.localhost' -H "Authorization: $PROBE_AUTH") || true
      [ "$code" = 200 ] && break
      sleep 0.05
    done
    t1=$(date +%s.%N)
    echo "$1 $t0 $t1 $killed" >"$WORK/fault$1"
  }
  FAULT_PIDS=()
  for f in $(seq 1 "$SOAK_FAULTS"); do
    fault "$f" $(( SOAK_SECONDS * f / (SOAK_FAULTS + 1) )) & FAULT_PIDS+=($!); PIDS+=($!)
  done
  : >"$WORK/fivexx"
  echo "soak: ${SOAK_SECONDS}s on PostgreSQL, 3 tenants, $CONNS connections, $SOAK_FAULTS faults; one line per ${SOAK_SLICE}s" >&2
  # The heap's own figures (glibc: in use, and free inside the arenas), from the metrics listener;
  # the server refreshes them when it trims the heap (every 30 s).
  heap_mib() { curl -s "http://127.0.0.1:$((PORT + 1))/metrics" |
    awk -v m="gatehouse_heap_$1_bytes" '$1 == m { printf "%.1f", $2 / 1048576; f = 1 } END { if (!f) printf "-" }'; }
  printf '| minute | req/s | p99 ms | 2xx | 4xx (wrong passwords) | 5xx | lost | RSS MiB | heap in use MiB | heap free MiB |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
  RSS0=$(rss_mib "$SERVER")
  printf '| 0 | - | - | - | - | - | - | %s | %s | %s |\n' "$RSS0" "$(heap_mib in_use)" "$(heap_mib free)"
  elapsed=0 total5=0 lost=0 slice=0 RSS_ALL=""
  while [ "$elapsed" -lt "$SOAK_SECONDS" ]; do
    slice=$((slice + 1))
    d=$(( SOAK_SECONDS - elapsed < SOAK_SLICE ? SOAK_SECONDS - elapsed : SOAK_SLICE ))
    SOAK_TENANTS=$TOKENS SOAK_PASSWORD=$PASSWORD wrk -t"$NPROC" -c"$CONNS" -d"${d}s" --timeout 10s --latency \
      -s "$WORK/soak.lua" "http://127.0.0.1:$PORT" >"$WORK/soak.wrk" 2>&1 || true
    parse_wrk "soak$slice" "$WORK/soak.wrk"
    read -r c2 c4 c5 < <(awk '/^classes/ { split($2, a, "="); split($3, b, "="); split($4, c, "="); print a[2], b[2], c[2] }' "$WORK/soak.wrk") || true
    grep '^fivexx ' "$WORK/soak.wrk" >>"$WORK/fivexx" || true
    total5=$((total5 + ${c5:-0}))
    # Lost: requests wrk sent that got no answer (socket errors: connect, read, write, timeout).
    lost=$((lost + $(get "soak$slice.socket_errors")))
    RSS=$(rss_mib "$SERVER")
    RSS_ALL="$RSS_ALL $RSS"
    printf '| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$slice" "$(get "soak$slice.rps")" "$(get "soak$slice.p99_ms")" \
      "${c2:-?}" "${c4:-?}" "${c5:-?}" "$(get "soak$slice.socket_errors")" "$RSS" "$(heap_mib in_use)" "$(heap_mib free)"
    elapsed=$((elapsed + d))
  done
  for p in "${FAULT_PIDS[@]}"; do wait "$p" || true; done
  echo
  # Each fault's window, in whole seconds: from the second of the kill to the one after the probe's 200.
  cat "$WORK"/fault* 2>/dev/null | sort -n >"$WORK/faults" || true
  while read -r n t0 t1 killed; do
    echo "soak: fault $n: $killed connections killed, recovered in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
  done <"$WORK/faults"
  outside=$(awk 'NR == FNR { from[NR] = int($2); to[NR] = int($3) + 1; n = NR; next }
    { inside = 0; for (i = 1; i <= n; i++) if ($2 >= from[i] && $2 <= to[i]) inside = 1
      if (inside) win += $3; else out += $3 }
    END { printf "%d %d", out, win }' "$WORK/faults" "$WORK/fivexx")
  read -r out5 in5 <<<"$outside"
  faults_done=$(wc -l <"$WORK/faults")
  echo "soak: 5xx=$total5 ($out5 outside the fault windows, $in5 inside), lost=$lost, faults=$faults_done of $SOAK_FAULTS"
  # RSS from the end of minute 1 (caches warm) to the end: largest over smallest.
  echo "soak: RSS ${RSS0} MiB at start, ${RSS} MiB at the end ($(awk -v a="$RSS0" -v b="$RSS" 'BEGIN { printf "%+.1f%%", (b - a) / a * 100 }')); minute 1 to the end: $(echo "$RSS_ALL" | awk '{ lo = $1; hi = $1; for (i = 2; i <= NF; i++) { if ($i < lo) lo = $i; if ($i > hi) hi = $i } printf "%.1f%% between the smallest and the largest", (hi - lo) / lo * 100 }')"
  [ "$PER_IP_FAILURES_SETTING" = absent ] && echo "soak: SIGNIN_FAILURES_PER_IP_PER_MINUTE is unknown to this build (not set)"
  [ "$out5" = 0 ] && [ "$faults_done" = "$SOAK_FAULTS" ]
  exit
fi

# ---- the ceilings: bcrypt on all cores, and a bare actix-web route ----
TOKENS_ONLY=$([ "$MODE" = tokens ] && echo 1 || true)
FASTEST10=-
if [ -z "$TOKENS_ONLY" ]; then
echo "bench: bcrypt verifications a second, all $NPROC cores" >&2
rate() { sed -nE 's/^verifies_per_s=([0-9.]+).*/\1/p'; }
for cost in 10 4; do
  put "bcrypt.rust.cost$cost" "$("$BIN_DIR/bcrypt-rate" "$cost" "$HASH_SECONDS" | rate)"
done
if gcc -O2 -pthread -o "$WORK/crypt-rate" bench/crypt_rate.c -lcrypt 2>"$WORK/gcc.log"; then
  for cost in 10 4; do put "bcrypt.c_crypt_r.cost$cost" "$("$WORK/crypt-rate" "$cost" "$HASH_SECONDS" | rate)"; done
else
  echo "bench: no C bcrypt (gcc or libcrypt's crypt.h missing)" >&2
fi
# Node's bcrypt (native, OpenBSD's C) when the package is installed where node finds it.
if command -v node >/dev/null && node -e "require('bcrypt')" 2>/dev/null; then
  for cost in 10 4; do
    put "bcrypt.node_bcrypt.cost$cost" "$(node -e '
      const bcrypt = require("bcrypt"), [cost, secs, n] = process.argv.slice(1).map(Number);
      process.env.UV_THREADPOOL_SIZE = n;
      const hash = bcrypt.hashSync("bench-password", cost), end = Date.now() + secs * 1000, t0 = Date.now();
      let done = 0;
      const one = () => Date.now() < end ? bcrypt.compare("bench-password", hash).then(() => { done++; one(); }) : null;
      Promise.all(Array.from({ length: n }, one)).then(() => setTimeout(() =>
        console.log((done / ((Date.now() - t0) / 1000)).toFixed(1)), 0));
      const wait = () => Date.now() < end + 2000 ? setTimeout(wait, 50) : null; wait();
    ' "$cost" "$HASH_SECONDS" "$NPROC")"
  done
fi
FASTEST10=$(awk '$1 ~ /^bcrypt\..*\.cost10$/ && $2 > m { m = $2 } END { print m + 0 }' "$KV")
put bcrypt.fastest.cost10 "$FASTEST10"
printf '  bcrypt cost 10: rust %s, C %s, node %s verifies/s\n' "$(get bcrypt.rust.cost10)" \
  "$(get bcrypt.c_crypt_r.cost10)" "$(get bcrypt.node_bcrypt.cost10)" >&2
fi

echo "bench: bare actix-web route, $NPROC workers" >&2
"$BIN_DIR/bare" "127.0.0.1:$BARE_PORT" "$NPROC" &
BARE=$!
PIDS+=("$BARE")
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$BARE_PORT/" >/dev/null && break; sleep 0.1; done
PORT=$BARE_PORT load bare localhost / "$CONNS" "$DURATION"
# The bare route stays up (idle) for the paired runs below.

# A token check and the bare route, measured in turns: ROUNDS rounds of (bare, then the token
# check), each DURATION / ROUNDS long, and the median round of each. This shared machine's speed
# drifts by a third within minutes (bench/README.md), so the ratio compares runs seconds apart,
# not the bare run at the start with a token check minutes later.
ROUNDS=${ROUNDS:-3}
paired() { # key host path [wrk args...]
  local key=$1 host=$2 path=$3; shift 3
  local each=$(( ${DURATION%s} / ROUNDS > 0 ? ${DURATION%s} / ROUNDS : 1 ))s r
  for r in $(seq 1 "$ROUNDS"); do
    PORT=$BARE_PORT load "$key.bare_r$r" localhost / "$CONNS" "$each"
    load "$key.r$r" "$host" "$path" "$CONNS" "$each" "$@"
  done
  median_round "$key.bare" "$key.bare_r"
  median_round "$key" "$key.r"
}
median_round() { # key round_prefix: copies the figures of the round with the median req/s to key.*
  local best
  best=$(for r in $(seq 1 "$ROUNDS"); do echo "$r $(get "$2$r.rps")"; done | sort -k2 -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  for f in rps p50_ms p99_ms; do put "$1.$f" "$(get "$2$best.$f")"; done
}

# ---- Gatehouse, one backend at a time ----
PER_IP_FAILURES_SETTING=set
BACKENDS=(sqlite)
if [ "$PG_ADMIN" != off ] && command -v psql >/dev/null && psql "$PG_ADMIN" -qc 'SELECT 1' >/dev/null 2>&1; then
  BACKENDS+=(postgres)
else
  echo "bench: no PostgreSQL at $PG_ADMIN: SQLite only" >&2
fi
for B in "${BACKENDS[@]}"; do
  echo "bench: $B" >&2
  setup_backend "$B"
  bench_tenant bench 10 localhost 127.0.0.1
  bench_tenant fast 4 fast.localhost
  bench_tenant k1 4 k1.localhost
  bench_tenant m1 4 m1.localhost
  gh user create --tenant bench --email bench@example.com --password "$PASSWORD" >/dev/null
  gh user create --tenant fast --email bench@example.com --password "$PASSWORD" >/dev/null
  if [ -z "$TOKENS_ONLY" ]; then
  gh user seed --tenant k1 --count "$SEED_SMALL" --password "$PASSWORD" >/dev/null
  SEEDED=$(gh user seed --tenant m1 --count "$SEED_BIG" --password "$PASSWORD")
  put "$B.seed_big.users" "$SEED_BIG"
  put "$B.seed_big.seconds" "$(sed -nE 's/.* in ([0-9.]+) s$/\1/p' <<<"$SEEDED")"
  echo "  $SEEDED" >&2

  # The plans of the sign-in and token-check queries in the big tenant, with the tenant id bound
  # as the server binds it (see bench/README.md).
  MID=$((SEED_BIG / 2))
  PLAN_SQL="SELECT * FROM users WHERE tenant_id = '@T' AND email = 'seed$MID@example.com' LIMIT 1;
SELECT * FROM users WHERE tenant_id = '@T' AND (email = 'seed$MID' OR username_key = 'seed$MID') LIMIT 2;
SELECT * FROM users WHERE tenant_id = '@T' AND id = '000000000000000000000000' LIMIT 1;"
  case "$B" in
    sqlite) if command -v sqlite3 >/dev/null; then
        T=$(sqlite3 "${DB_URL#sqlite://}" "SELECT id FROM tenants WHERE slug = 'm1'")
        sed -e "s/@T/$T/" -e 's/^/EXPLAIN QUERY PLAN /' <<<"$PLAN_SQL" | sqlite3 "${DB_URL#sqlite://}" >"$WORK/plans-$B.txt" || true
      fi ;;
    postgres)
      T=$(psql "$DB_URL" -Atc "SELECT id FROM tenants WHERE slug = 'm1'")
      { echo "ANALYZE users;"; sed -e "s/@T/$T/" -e 's/^/EXPLAIN /' <<<"$PLAN_SQL"; } |
        psql "$DB_URL" -q >"$WORK/plans-$B.txt" || true
      # The seeding's aftermath, done now rather than during the measures: autovacuum would visit
      # the million new rows and the checkpointer write them out while the token checks run, on
      # the same two cores (the first full runs measured PostgreSQL's token checks beside both).
      psql "$DB_URL" -qc "VACUUM (ANALYZE)" >/dev/null && psql "$DB_URL" -qc "CHECKPOINT" >/dev/null || true ;;
  esac
  fi

  start_server
  sleep 1
  put "$B.rss_idle_mib" "$(rss_mib "$SERVER")"
  AM_LOGIN="{\"username\":\"bench@example.com\",\"password\":\"$PASSWORD\"}"
  TD_LOGIN="{\"email\":\"bench@example.com\",\"password\":\"$PASSWORD\"}"
  AM=$(token localhost /user/auth "$AM_LOGIN")
  TD=$(token localhost /v1/auth/signin "$TD_LOGIN")
  [ -n "$AM" ] && [ -n "$TD" ] || { echo "bench: no token on $B" >&2; cat "$WORK/server.log" >&2; exit 1; }

  paired "$B.get_user" localhost /user -H "Authorization: Bearer $AM"
  paired "$B.get_v1_users" localhost /v1/users -H "Authorization: $TD"
  if [ -n "$TOKENS_ONLY" ]; then stop_server; continue; fi
  signin_load "$B.am_signin_cost10" localhost /user/auth "$CONNS" "$DURATION" "$AM_LOGIN"
  signin_load "$B.td_signin_cost10" localhost /v1/auth/signin "$CONNS" "$DURATION" "$TD_LOGIN"
  signin_load "$B.am_signin_cost4" fast.localhost /user/auth "$CONNS" "$DURATION" "$AM_LOGIN"
  signin_load "$B.td_signin_cost4" fast.localhost /v1/auth/signin "$CONNS" "$DURATION" "$TD_LOGIN"

  # Token checks while cost-10 sign-ins keep every hashing thread busy.
  WRK_BODY=$AM_LOGIN wrk -t1 -c"$CONNS" -d"$DURATION" --timeout 10s -H "Host: localhost" -s "$WORK/post.lua" \
    "http://127.0.0.1:$PORT/user/auth" >"$WORK/$B.saturating.wrk" 2>&1 &
  SAT=$!
  sleep 1
  load "$B.get_user_under_signins" localhost /user 4 "$(( ${DURATION%s} > 2 ? ${DURATION%s} - 2 : 1 ))s" \
    -H "Authorization: Bearer $AM"
  wait "$SAT" || true
  parse_wrk "$B.saturating_signins" "$WORK/$B.saturating.wrk"
  sleep 1

  # 1,000 open connections (token checks), the largest RSS seen while they are open.
  : >"$WORK/rss"
  ( while kill -0 "$SERVER" 2>/dev/null; do rss_mib "$SERVER" >>"$WORK/rss"; echo >>"$WORK/rss"; sleep 0.2; done ) &
  SAMPLER=$!
  load "$B.conns1000" localhost /user 1000 "$DURATION" -H "Authorization: Bearer $AM"
  kill "$SAMPLER" 2>/dev/null || true
  put "$B.rss_1000_conns_mib" "$(awk 'NF && $1 > m { m = $1 } END { printf "%.1f", m }' "$WORK/rss")"

  # Sign-in latency (not throughput: as many connections as hashing threads) with 1k and SEED_BIG users.
  signin_load "$B.signin_1k_users" k1.localhost /user/auth "$NPROC" "$DURATION" \
    "{\"username\":\"seed$((SEED_SMALL / 2))\",\"password\":\"$PASSWORD\"}"
  signin_load "$B.signin_big_users" m1.localhost /user/auth "$NPROC" "$DURATION" \
    "{\"username\":\"seed$MID\",\"password\":\"$PASSWORD\"}"
  stop_server
done

# ---- ratios, the table, the JSON ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }
NON2XX=0
for B in "${BACKENDS[@]}"; do
  put "$B.ratio.get_user_over_bare" "$(ratio "$(get "$B.get_user.rps")" "$(get "$B.get_user.bare.rps")")"
  put "$B.ratio.get_v1_users_over_bare" "$(ratio "$(get "$B.get_v1_users.rps")" "$(get "$B.get_v1_users.bare.rps")")"
  put "$B.ratio.am_signin_cost10_over_bcrypt" "$(ratio "$(get "$B.am_signin_cost10.rps")" "$FASTEST10")"
  put "$B.ratio.td_signin_cost10_over_bcrypt" "$(ratio "$(get "$B.td_signin_cost10.rps")" "$FASTEST10")"
  put "$B.ratio.signin_p50_big_over_1k" "$(ratio "$(get "$B.signin_big_users.p50_ms")" "$(get "$B.signin_1k_users.p50_ms")")"
done
NON2XX=$(awk '$1 ~ /\.non2xx$/ { s += $2 } END { print s + 0 }' "$KV")
SOCKET_ERRORS=$(awk '$1 ~ /\.socket_errors$/ { s += $2 } END { print s + 0 }' "$KV")
EMPTY_RUNS=$(awk '$1 ~ /\.requests$/ && $2 == 0 { s++ } END { print s + 0 }' "$KV")
put all.non2xx "$NON2XX"
put all.socket_errors "$SOCKET_ERRORS"
put all.runs_without_a_response "$EMPTY_RUNS"

col() { # key for each backend column: "$(get sqlite.KEY)" "$(get postgres.KEY)"
  printf '%s | %s' "$(get "sqlite.$1")" "$(get "postgres.$1")"
}
run_cells() { # key -> "rps (p50 / p99)" per backend
  local out=()
  for B in sqlite postgres; do
    if [ "$(get "$B.$1.rps")" = - ]; then out+=("-"); else
      out+=("$(get "$B.$1.rps") ($(get "$B.$1.p50_ms") / $(get "$B.$1.p99_ms"))"); fi
  done
  printf '%s | %s' "${out[0]}" "${out[1]}"
}
TABLE=$WORK/table.md
{
  echo "| measure | SQLite | PostgreSQL | goal |"
  echo "| --- | ---: | ---: | --- |"
  echo "| bare actix-web \`GET /\`, req/s (p50 / p99 ms) | $(get bare.rps) ($(get bare.p50_ms) / $(get bare.p99_ms)) | (same run) | ceiling |"
  echo "| bcrypt verifies/s, cost 10, $NPROC threads: Rust \`bcrypt\` / C \`crypt_r\` / Node \`bcrypt\` | $(get bcrypt.rust.cost10) / $(get bcrypt.c_crypt_r.cost10) / $(get bcrypt.node_bcrypt.cost10) | (same run) | ceiling |"
  echo "| bcrypt verifies/s, cost 4: Rust / C / Node | $(get bcrypt.rust.cost4) / $(get bcrypt.c_crypt_r.cost4) / $(get bcrypt.node_bcrypt.cost4) | (same run) | |"
  echo "| \`GET /user\` (Appmixer token check), req/s (p50 / p99 ms) | $(run_cells get_user) | |"
  echo "| \`GET /v1/users\` (Tiledesk token check) | $(run_cells get_v1_users) | |"
  echo "| \`POST /user/auth\`, cost 10, sign-ins/s (p50 / p99 ms) | $(run_cells am_signin_cost10) | |"
  echo "| \`POST /v1/auth/signin\`, cost 10 | $(run_cells td_signin_cost10) | |"
  echo "| \`POST /user/auth\`, cost 4 | $(run_cells am_signin_cost4) | |"
  echo "| \`POST /v1/auth/signin\`, cost 4 | $(run_cells td_signin_cost4) | |"
  echo "| bare route beside \`GET /user\`, req/s (median of $ROUNDS rounds in turns with it) | $(col get_user.bare.rps) | |"
  echo "| **\`GET /user\` req/s / bare req/s** (the rounds' medians) | $(col ratio.get_user_over_bare) | >= 0.50 |"
  echo "| \`GET /v1/users\` req/s / bare req/s | $(col ratio.get_v1_users_over_bare) | |"
  echo "| **\`GET /user\` p99 ms while cost-10 sign-ins saturate hashing** | $(col get_user_under_signins.p99_ms) | < 5 |"
  echo "| **sign-ins/s at cost 10 / fastest bcrypt verifies/s** (Appmixer) | $(col ratio.am_signin_cost10_over_bcrypt) | >= 0.95 |"
  echo "| sign-ins/s at cost 10 / fastest bcrypt verifies/s (Tiledesk) | $(col ratio.td_signin_cost10_over_bcrypt) | >= 0.95 |"
  echo "| sign-in p50 ms ($NPROC conns, cost 4): $SEED_SMALL users / $SEED_BIG users | $(get sqlite.signin_1k_users.p50_ms) / $(get sqlite.signin_big_users.p50_ms) | $(get postgres.signin_1k_users.p50_ms) / $(get postgres.signin_big_users.p50_ms) | |"
  echo "| **sign-in p50 with $SEED_BIG users / with $SEED_SMALL** | $(col ratio.signin_p50_big_over_1k) | <= 1.1 |"
  echo "| **RSS MiB idle** | $(col rss_idle_mib) | < 32 |"
  echo "| **RSS MiB at 1,000 open connections** (their req/s) | $(get sqlite.rss_1000_conns_mib) ($(get sqlite.conns1000.rps)) | $(get postgres.rss_1000_conns_mib) ($(get postgres.conns1000.rps)) | < 48 |"
  echo "| seeding $SEED_BIG users, seconds | $(col seed_big.seconds) | minutes |"
  echo "| all runs: non-2xx responses / socket errors (timeouts at 1,000 connections count) / runs with no response | $NON2XX / $SOCKET_ERRORS / $EMPTY_RUNS | | 0 / - / 0 |"
} >"$TABLE"

echo
echo "Gatehouse bench ($MODE), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD), $NPROC CPUs, profile $PROFILE, wrk $CONNS connections x $DURATION"
cat "$TABLE"
[ "$PER_IP_FAILURES_SETTING" = absent ] &&
  echo "(SIGNIN_FAILURES_PER_IP_PER_MINUTE is unknown to this build, so it was not set; no run above has wrong passwords)"
for B in "${BACKENDS[@]}"; do
  [ -s "$WORK/plans-$B.txt" ] && { echo; echo "Query plans in the $SEED_BIG-user tenant, $B:"; cat "$WORK/plans-$B.txt"; }
done

# JSON: the context, every raw figure, and the table's rows.
awk -v mode="$MODE" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v commit="$(git rev-parse HEAD)" \
    -v cpus="$NPROC" -v profile="$PROFILE" -v conns="$CONNS" -v dur="$DURATION" -v table="$TABLE" '
  function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
  function val(v) { return (v ~ /^-?[0-9]+(\.[0-9]+)?$/) ? v : q(v) }
  { k[NR] = $1; v[NR] = $2 }
  END {
    printf "{\n  \"mode\": %s, \"date\": %s, \"commit\": %s, \"cpus\": %d, \"profile\": %s,\n", q(mode), q(date), q(commit), cpus, q(profile)
    printf "  \"wrk\": {\"connections\": %d, \"duration\": %s},\n  \"results\": {\n", conns, q(dur)
    for (i = 1; i <= NR; i++) printf "    %s: %s%s\n", q(k[i]), val(v[i]), (i < NR ? "," : "")
    printf "  },\n  \"table\": [\n"
    n = 0
    while ((getline line < table) > 0) {
      if (line ~ /^\| (measure|---)/) continue
      while (line ~ /\| \|/) sub(/\| \|/, "| - |", line)
      split(line, c, / \| /); sub(/^\| /, "", c[1]); sub(/ ?\|$/, "", c[4])
      rows[++n] = sprintf("    {\"measure\": %s, \"sqlite\": %s, \"postgres\": %s, \"goal\": %s}", q(c[1]), q(c[2]), q(c[3]), q(c[4]))
    }
    for (i = 1; i <= n; i++) printf "%s%s\n", rows[i], (i < n ? "," : "")
    printf "  ]\n}\n"
  }' "$KV" >"$RESULTS"
echo
echo "bench: wrote $RESULTS"
