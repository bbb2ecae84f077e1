#!/usr/bin/env python3
"""A real SMTP server for Gatehouse's end-to-end tests.

aiosmtpd listens on 127.0.0.1:PORT and writes each message it accepts to DIR as NNNNNN.json:
{"to": [...], "from": ..., "subject": ..., "text": ..., "html": ..., "raw": ...}, with the
text and HTML parts decoded (quoted-printable, base64) by Python's email package. Each file
is written under a hidden temporary name and then renamed, so a reader never sees half a mail. It prints "READY <port>" once it listens, and runs until its standard input closes
or it is terminated.

    python3 tests/smtp/sink.py --port 2525 --dir /tmp/mails
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.lock = threading.Lock()
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = next(self.numbers)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {"text/plain": "", "text/html": ""}
        for part in msg.walk():
            if part.get_content_type() in parts and not part.is_multipart():
                parts[part.get_content_type()] = part.get_content()
        record = {
            "to": envelope.rcpt_tos,
            "from": envelope.mail_from,
            "subject": str(msg.get("Subject", "")),
            "text": parts["text/plain"],
            "html": parts["text/html"],
            "raw": raw.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.out, f".{n:06}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, f"{n:06}.json"))
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"READY {controller.port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
