#!/usr/bin/env python3
"""Known vs unknown email: how long a password-reset request takes (issue 12).

Starts a real SMTP sink (tests/smtp/sink.py, aiosmtpd) and the gateway binary on a temp
SQLite file with one tenant whose SMTP_URL points at the sink and whose mail limits are off,
creates one account, then sends N `PUT /v1/auth/requestresetpsw` (and N Appmixer
`POST /user/forgot-password`), alternating a known and an unknown address, and prints the
median, p90 and mean of each. Bounded: N requests per kind, local addresses only.

    python3 bench/mail_reset_timing.py [--binary target/debug/gatehouse] [--n 300]
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = json.dumps(body)
    start = time.perf_counter()
    conn.request(method, path, data, {"Content-Type": "application/json", "Host": "localhost"})
    resp = conn.getresponse()
    payload = resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return resp.status, payload, elapsed


def summary(times):
    ms = sorted(t * 1000 for t in times)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(ms[int(len(ms) * 0.9) - 1], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "gatehouse"))
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gatehouse-mail-bench-")
    smtp_port, http_port = free_port(), free_port()
    sink = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "smtp", "sink.py"),
         "--port", str(smtp_port), "--dir", os.path.join(work, "mails")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert sink.stdout.readline().startswith(b"READY")
    config = os.path.join(work, "gatehouse.toml")
    with open(config, "w") as f:
        f.write(f"""
[server]
bind = "127.0.0.1:{http_port}"
metrics_bind = ""
[database]
url = "sqlite://{work}/gatehouse.db"
pool_size = 4
[tenants]
refresh_seconds = 5
[[tenants.bootstrap]]
slug = "demo"
hosts = ["localhost"]
apis = ["tiledesk", "appmixer"]
settings = {{ BCRYPT_COST = "4", SMTP_URL = "smtp://127.0.0.1:{smtp_port}", MAIL_PER_EMAIL_PER_HOUR = "0", MAIL_PER_IP_PER_HOUR = "0", SIGNUP_PER_IP_PER_MINUTE = "0" }}
""")
    server = subprocess.Popen([args.binary, "--config", config, "serve"],
                              env={**os.environ, "RUST_LOG": "error"})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        status, body, _ = call(http_port, "POST", "/user",
                               {"email": "known@example.com", "password": "known-password"})
        assert status == 200, body
        results = {}
        for name, method, path in [("tiledesk", "PUT", "/v1/auth/requestresetpsw"),
                                   ("appmixer", "POST", "/user/forgot-password")]:
            known, unknown, answers = [], [], set()
            for i in range(args.n * 2):
                email = "known@example.com" if i % 2 == 0 else f"nobody{i}@example.com"
                status, payload, t = call(http_port, method, path, {"email": email})
                assert status == 200, payload
                answers.add(payload)
                (known if i % 2 == 0 else unknown).append(t)
            results[name] = {"known": summary(known), "unknown": summary(unknown),
                             "distinct_answers": len(answers)}
        time.sleep(1.5)
        results["mails_received"] = len([m for m in os.listdir(os.path.join(work, "mails"))
                                         if m.endswith(".json")])
        results["requests_per_kind"] = args.n
        print(json.dumps(results, indent=2))
    finally:
        server.terminate()
        server.wait()
        sink.stdin.close()
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
