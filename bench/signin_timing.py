#!/usr/bin/env python3
"""Known vs unknown account: how long a wrong-password sign-in takes (issue 21, rule 4b).

Starts the gateway binary on a temp SQLite file (or, with --postgres URL, on a fresh PostgreSQL
database made beside the one the URL names, dropped at the end) with three tenants whose sign-in
limits are off:
  bcrypt  BCRYPT_COST 10 (the account made at 10);
  argon2  PASSWORD_HASH argon2id at OWASP's parameters (m=19456 KiB, t=2, p=1);
  stale   the account made at BCRYPT_COST 4, then the tenant raised to 10 (the old code answered
          such an account at once while an unknown one spent the full cost).
Then, per tenant, N Appmixer `POST /user/auth` with a wrong password, interleaved known/unknown,
and prints each side's median, p90 and mean, the ratio of the medians (known / unknown), and the
hash work the server counted (`gatehouse_hash_work_total`) per sign-in. Bounded: local only.

    python3 bench/signin_timing.py [--binary target/release/gatehouse] [--n 50] [--postgres URL]
"""

import argparse
import base64
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TENANTS = {
    "bcrypt": 'BCRYPT_COST = "10", PASSWORD_HASH = "bcrypt"',
    "argon2": 'PASSWORD_HASH = "argon2id", ARGON2_MEMORY_KIB = "19456", ARGON2_ITERATIONS = "2"',
    "stale": 'BCRYPT_COST = "4", PASSWORD_HASH = "bcrypt"',
}
LIMITS_OFF = ('SIGNIN_MAX_FAILURES = "1000000", SIGNIN_FAILURES_PER_IP_PER_MINUTE = "0", '
              'SIGNIN_TARPIT_MAX_MS = "0", SIGNUP_PER_IP_PER_MINUTE = "0"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, host, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body) if body is not None else None
    start = time.perf_counter()
    conn.request(method, path, data, {"Content-Type": "application/json", "Host": host})
    resp = conn.getresponse()
    payload = resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return resp.status, payload, elapsed


def work(metrics_port):
    _, body, _ = call(metrics_port, "localhost", "GET", "/metrics")
    total = 0
    for line in body.decode().splitlines():
        if line.startswith("gatehouse_hash_work_total{"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def summary(times):
    ms = sorted(t * 1000 for t in times)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[max(int(len(ms) * 0.9) - 1, 0)], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "gatehouse"))
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--postgres", help="postgres://... of a server where a database may be made")
    args = ap.parse_args()
    work_dir = tempfile.mkdtemp(prefix="gatehouse-signin-bench-")
    http_port, metrics_port = free_port(), free_port()
    db_name = None
    if args.postgres:
        db_name = "signin_bench_" + uuid.uuid4().hex[:12]
        subprocess.run(["psql", args.postgres, "-qc", f"CREATE DATABASE {db_name}"], check=True)
        base = args.postgres.rsplit("/", 1)[0]
        db_url = f"{base}/{db_name}"
    else:
        db_url = f"sqlite://{work_dir}/gatehouse.db"
    config = os.path.join(work_dir, "gatehouse.toml")
    tenants = "".join(f"""
[[tenants.bootstrap]]
slug = "{slug}"
hosts = ["{slug}.localhost"]
apis = ["tiledesk", "appmixer"]
settings = {{ {settings}, {LIMITS_OFF} }}
""" for slug, settings in TENANTS.items())
    with open(config, "w") as f:
        f.write(f"""
[server]
bind = "127.0.0.1:{http_port}"
metrics_bind = "127.0.0.1:{metrics_port}"
[database]
url = "{db_url}"
pool_size = 4
[tenants]
refresh_seconds = 1
{tenants}""")
    env = {**os.environ, "RUST_LOG": "error"}
    if db_name:
        # PostgreSQL needs a master key every node shares; this run's own, thrown away after.
        env["GATEHOUSE_MASTER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    server = subprocess.Popen([args.binary, "--config", config, "serve"], env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        for slug in TENANTS:
            status, body, _ = call(http_port, f"{slug}.localhost", "POST", "/user",
                                   {"email": "known@example.com", "password": "known-password"})
            assert status == 200, body
        subprocess.run([args.binary, "--config", config, "tenant", "set", "stale", "BCRYPT_COST",
                        "10"], check=True, env=env, stdout=subprocess.DEVNULL)
        time.sleep(3)  # the refresh, and the dummy of the new policy made ahead
        results = {"backend": "postgresql" if db_name else "sqlite", "n": args.n}
        for slug in TENANTS:
            host = f"{slug}.localhost"
            known, unknown, known_work, unknown_work = [], [], [], []
            for i in range(args.n * 2):
                login = "known@example.com" if i % 2 == 0 else f"nobody{i}@example.com"
                before = work(metrics_port)
                status, payload, t = call(http_port, host, "POST", "/user/auth",
                                          {"username": login, "password": "wrong-password"})
                spent = work(metrics_port) - before
                assert status == 403, payload
                (known if i % 2 == 0 else unknown).append(t)
                (known_work if i % 2 == 0 else unknown_work).append(spent)
            k, u = summary(known), summary(unknown)
            results[slug] = {
                "known": k,
                "unknown": u,
                "median_ratio": round(k["median_ms"] / u["median_ms"], 3),
                "work_per_signin": {"known": statistics.median(known_work),
                                    "unknown": statistics.median(unknown_work)},
            }
        print(json.dumps(results, indent=2))
    finally:
        server.terminate()
        server.wait()
        if db_name:
            subprocess.run(["psql", args.postgres, "-qc", f"DROP DATABASE IF EXISTS {db_name}"])
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
