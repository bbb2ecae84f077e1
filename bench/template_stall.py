#!/usr/bin/env python3
"""Another tenant's /healthz while one tenant's hostile mail template renders (issue 21 rule 1).

Starts a real SMTP sink (tests/smtp/sink.py) and the gateway binary on a temp SQLite file with
two tenants: `demo` (host localhost, mail on) and `other` (host other.test). A template that is
heavy at render time (three nested loops over the link's characters, about a million iterations)
is written straight into demo's settings, past the save-time check, as a template stored before
checks existed would be. Then, in one run:
  quiet:   P probes of `GET /healthz` on other.test, one after another;
  hostile: the same P probes while T threads send Appmixer `POST /user/forgot-password` for a
           demo account as fast as they are answered (each one renders the template).
It prints p50, p99 and max of each phase, the resets sent, and gatehouse_mail_total.

    python3 bench/template_stall.py [--binary target/debug/gatehouse] [--probes 300] [--threads 4]

Bounded: P probes per phase, local addresses only, the server and the sink stopped at the end.
"""

import argparse
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("{% for a in link %}{% for b in link %}{% for c in link %}"
         "{% endfor %}{% endfor %}{% endfor %}{{ link }}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body, host, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = None if body is None else json.dumps(body)
    start = time.perf_counter()
    conn.request(method, path, data, {"Content-Type": "application/json", "Host": host})
    resp = conn.getresponse()
    payload = resp.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return resp.status, payload, elapsed


def percentiles(times):
    ms = sorted(t * 1000 for t in times)
    pick = lambda q: ms[min(len(ms) - 1, int(len(ms) * q))]
    return {"p50_ms": round(pick(0.50), 2), "p99_ms": round(pick(0.99), 2),
            "max_ms": round(ms[-1], 2), "probes": len(ms)}


def probe(port, n):
    times = []
    for _ in range(n):
        status, body, t = call(port, "GET", "/healthz", None, "other.test")
        assert status == 200, body
        times.append(t)
        time.sleep(0.01)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "gatehouse"))
    ap.add_argument("--probes", type=int, default=300)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gatehouse-template-bench-")
    smtp_port, http_port, metrics_port, admin_port = (free_port(), free_port(), free_port(),
                                                    free_port())
    sink = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "smtp", "sink.py"),
         "--port", str(smtp_port), "--dir", os.path.join(work, "mails")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert sink.stdout.readline().startswith(b"READY")
    db = os.path.join(work, "gatehouse.db")
    config = os.path.join(work, "gatehouse.toml")
    with open(config, "w") as f:
        f.write(f"""
[server]
bind = "127.0.0.1:{http_port}"
metrics_bind = "127.0.0.1:{metrics_port}"
admin_bind = "127.0.0.1:{admin_port}"
workers = 2
[database]
url = "sqlite://{db}"
pool_size = 4
[tenants]
refresh_seconds = 1
[[tenants.bootstrap]]
slug = "demo"
hosts = ["localhost"]
apis = ["tiledesk", "appmixer"]
settings = {{ BCRYPT_COST = "4", PASSWORD_HASH = "bcrypt", SMTP_URL = "smtp://127.0.0.1:{smtp_port}", MAIL_PER_EMAIL_PER_HOUR = "0", MAIL_PER_IP_PER_HOUR = "0" }}
[[tenants.bootstrap]]
slug = "other"
hosts = ["other.test"]
apis = ["tiledesk", "appmixer"]
""")
    server = subprocess.Popen([args.binary, "--config", config, "serve"],
                              env={**os.environ, "RUST_LOG": "error"})
    stop = threading.Event()
    resets = [0]
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        status, body, _ = call(http_port, "POST", "/user",
                               {"email": "ann@example.com", "password": "ann-password"},
                               "localhost")
        assert status == 200, body
        # Past the save-time check: straight into the table, as an old template would be.
        with sqlite3.connect(db) as c:
            (tid,) = c.execute("SELECT id FROM tenants WHERE slug = 'demo'").fetchone()
            c.execute("INSERT INTO tenant_settings (tenant_id, name, value, updated_at) "
                      "VALUES (?, 'MAIL_RESET_TEXT', ?, 0)", (tid, HEAVY))
        time.sleep(2.5)  # two tenant refreshes

        quiet = probe(http_port, args.probes)

        def hammer():
            while not stop.is_set():
                status, _, _ = call(http_port, "POST", "/user/forgot-password",
                                    {"email": "ann@example.com"}, "localhost")
                assert status == 200, status
                resets[0] += 1

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(args.threads)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        hostile = probe(http_port, args.probes)
        stop.set()
        for t in threads:
            t.join(timeout=120)
        time.sleep(2)
        conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=10)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        mail = {line.split('"')[1]: int(float(line.split()[-1]))
                for line in metrics.splitlines() if line.startswith("gatehouse_mail_total{")}
        print(json.dumps({"binary": args.binary, "threads": args.threads,
                          "quiet": percentiles(quiet), "hostile": percentiles(hostile),
                          "resets_sent": resets[0], "gatehouse_mail_total": mail}, indent=2))
    finally:
        stop.set()
        server.terminate()
        server.wait()
        sink.stdin.close()
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
