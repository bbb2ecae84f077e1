#!/usr/bin/env bash
# Where a running server's resident memory is, by mapping (anonymous heap, the binary, each
# library) and its thread count, every INTERVAL seconds until it exits: what grows in a soak.
#   bench/rss_by_mapping.sh PID [INTERVAL]
#   bench/run.sh soak 240 & sleep 5; bench/rss_by_mapping.sh "$(pgrep -f 'bench-postgres.toml serve')" 30
set -euo pipefail
PID=${1:?usage: bench/rss_by_mapping.sh PID [INTERVAL]}
INTERVAL=${2:-30}
while kill -0 "$PID" 2>/dev/null; do
  python3 - "$PID" <<'PY' || true
import collections, os, re, sys
pid = sys.argv[1]
by, name = collections.Counter(), None
for line in open(f"/proc/{pid}/smaps"):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        parts = line.split()
        name = parts[5] if len(parts) > 5 else "[anon]"
    elif line.startswith("Rss:"):
        by[name] += int(line.split()[1])
top = sorted(by.items(), key=lambda kv: -kv[1])[:6]
print(f"threads={len(os.listdir(f'/proc/{pid}/task'))} total={sum(by.values()) / 1024:.1f}MiB",
      " ".join(f"{k.rsplit('/', 1)[-1]}={v / 1024:.1f}" for k, v in top), flush=True)
PY
  sleep "$INTERVAL"
done
