#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the stable toolchain (the
# `-C` flags cargo-fuzz passes, without its nightly-only AddressSanitizer) and runs each for
# SECONDS (default 30) from the committed seeds in corpus/<target>/. Exits non-zero on the first
# crash (a panic, a failed check, a timeout or running out of memory), leaving the input that
# crashed under fuzz/artifacts/<target>/.
#   bash fuzz/run.sh            # every target, 30 s each, as .ci/run runs it
#   bash fuzz/run.sh 3600 token_verify   # an hour on one target
#   fuzz/target/x86_64-unknown-linux-gnu/release/token_verify fuzz/artifacts/token_verify/crash-…
#                               # replay one input after a crash
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
  TARGETS=(tiledesk_body appmixer_body token_verify host_resolution tiledesk_import appmixer_import)
fi
# Its own target directory: these objects are instrumented, the main workspace's are not.
export CARGO_TARGET_DIR="$PWD/target"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
# With an explicit --target, RUSTFLAGS reach only the fuzzed code, not build scripts or
# proc-macros (which would not link against libFuzzer's hooks).
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# The committed Cargo.lock is what CI builds (--locked fails if it is stale); a copy without one
# (a tarball, a new checkout before the first commit) resolves versions itself.
LOCKED=()
if git ls-files --error-unmatch Cargo.lock >/dev/null 2>&1; then
  LOCKED=(--locked)
fi
# A dependency added to the main workspace changes this lock too: say how to mend it.
if [ ${#LOCKED[@]} -gt 0 ] && ! cargo metadata --locked --format-version 1 >/dev/null 2>&1; then
  echo "fuzz: fuzz/Cargo.lock is out of date with the crates' dependencies; run" \
    "'cargo metadata --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null' and commit fuzz/Cargo.lock" >&2
  exit 1
fi
start=$(date +%s)
cargo build --release "${LOCKED[@]}" --target "$HOST" --bins
echo "fuzz: built in $(($(date +%s) - start))s"
for t in "${TARGETS[@]}"; do
  [ -d "corpus/$t" ] || { echo "fuzz: no seeds in fuzz/corpus/$t" >&2; exit 1; }
  mkdir -p "artifacts/$t"
  # New inputs go to a scratch corpus; the committed seeds are only read.
  work="$(mktemp -d)"
  echo "fuzz: $t for ${SECONDS_EACH}s"
  "target/$HOST/release/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 "$work" "corpus/$t" >"$work.log" 2>&1 \
    || { tail -n 40 "$work.log"; echo "fuzz: $t CRASHED; the input is in fuzz/artifacts/$t/" >&2; exit 1; }
  # Coverage after the seeds (INITED) and at the end (DONE), and the run's totals.
  grep -E "INITED|DONE" "$work.log" | sed -E "s/^#[0-9]+[[:space:]]+/fuzz: $t /"
  grep -E "stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)" \
    "$work.log" | sed "s/^/fuzz: $t /"
  rm -rf "$work" "$work.log"
done
echo "fuzz: no crash"
