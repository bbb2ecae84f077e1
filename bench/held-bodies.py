#!/usr/bin/env python3
"""Held request bodies (issue 8.3a): opens N connections from one address that send a POST's
headers with Content-Length: 60000 and no body, then times a sign-in from another loopback
address while they are held, and counts how each held connection was answered.
Usage: bench/held-bodies.py PORT [N=1100] against a running gatehouse (default [server] settings)."""
import json, socket, subprocess, sys, time

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1100
head = (b"POST /user/auth HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Content-Length: 60000\r\n\r\n")


def signin():
    started = time.time()
    code = subprocess.run(
        ["curl", "--interface", "127.0.0.2", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "30",
         "-X", "POST", f"http://localhost:{port}/user/auth", "-H", "Content-Type: application/json",
         "-d", json.dumps({"username": "x@example.com", "password": "whatever-pw"})],
        capture_output=True, text=True).stdout
    return code, round(time.time() - started, 3)


t0 = time.time()
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(head)
    socks.append(s)
time.sleep(1)
print(f"held {len(socks)} connections; a sign-in from another address meanwhile: {signin()}")
answers, pending, last = {}, set(range(len(socks))), 0.0
for s in socks:
    s.setblocking(False)
while pending and time.time() < t0 + 60:
    for i in list(pending):
        try:
            data = socks[i].recv(64)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        code = data.split(b" ")[1].decode() if data else "closed"
        answers[code] = answers.get(code, 0) + 1
        pending.discard(i)
        last = time.time() - t0
    time.sleep(0.05)
print(f"answers {answers}; still open after 60 s: {len(pending)}; last answer at {last:.1f} s")
