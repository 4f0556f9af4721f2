#!/bin/sh
# Fuzz smoke test: builds the libFuzzer targets with clang (ASan+UBSan) and runs each one
# for FUZZ_SECONDS (default 20) from its committed seed corpus. Any crash, leak,
# sanitizer report or time-out fails the script; the failing input is left in
# $BUILD/fuzz-artifacts/ (add it to tests/fuzz/corpus/<target>/ once fixed).
# Usage: .ci/fuzz-smoke.sh [build-dir]     (default: build-fuzz)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
TARGETS=${FUZZ_TARGETS:-"safetensors config npy idx image pickle torch"}

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DVITSCOPE_FUZZ=ON -DVITSCOPE_BUILD_APP=OFF >/dev/null
ninja -C "$BUILD" ${BUILD_JOBS:+-j "$BUILD_JOBS"} fuzz

mkdir -p "$BUILD/fuzz-artifacts"
status=0
for t in $TARGETS; do
  work=$(mktemp -d)
  echo "== fuzz_$t for ${SECONDS_EACH}s"
  # New inputs go to the scratch folder; the committed corpus is only read.
  if ! "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-artifacts/${t}-" \
      "$work" "$ROOT/tests/fuzz/corpus/$t" 2>"$BUILD/fuzz-artifacts/$t.log"; then
    echo "fuzz_$t FAILED; log: $BUILD/fuzz-artifacts/$t.log"
    tail -n 40 "$BUILD/fuzz-artifacts/$t.log"
    status=1
  else
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$BUILD/fuzz-artifacts/$t.log" || true
  fi
  rm -rf "$work"
done
exit $status
