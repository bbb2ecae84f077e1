#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the stable toolchain (the
# `-C` flags cargo-fuzz passes, without its nightly-only AddressSanitizer) and runs each for
# SECONDS (default 30) from the committed seeds in corpus/<target>/. Exits non-zero on the first
# crash, leaving the input that crashed under fuzz/artifacts/<target>/.
#   bash fuzz/run.sh            # 30 s each, as CI runs it
#   bash fuzz/run.sh 3600 token_verify   # an hour on one target
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-30}"
shift || true
TARGETS=("$@")
if [ "${#TARGETS[@]}" -eq 0 ]; then
  TARGETS=(tiledesk_body appmixer_body token_verify host_resolution)
fi
# Its own target directory: these objects are instrumented, the main workspace's are not.
export CARGO_TARGET_DIR="$PWD/target"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
# With an explicit --target, RUSTFLAGS reach only the fuzzed code, not build scripts or
# proc-macros (which would not link against libFuzzer's hooks).
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
cargo build --release --locked --target "$HOST" --bins
for t in "${TARGETS[@]}"; do
  mkdir -p "artifacts/$t"
  # New inputs go to a scratch corpus; the committed seeds are only read.
  work="$(mktemp -d)"
  echo "fuzz: $t for ${SECONDS_EACH}s"
  "target/$HOST/release/$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 "$work" "corpus/$t" 2>"$work.log" \
    || { tail -n 40 "$work.log"; echo "fuzz: $t CRASHED; the input is in fuzz/artifacts/$t/" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$work.log" | sed "s/^/fuzz: $t /"
  rm -rf "$work" "$work.log"
done
echo "fuzz: no crash"
