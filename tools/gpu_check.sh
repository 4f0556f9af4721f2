#!/bin/bash
# One command for a GPU machine: on the first discrete GPU, `devices`, `selftest` under every
# kernel family the GPU can run, the whole ctest suite with validation on, and
# tools/bench_vs_pytorch.py against PyTorch CUDA eager (fp32, and fp16 autocast) on the same
# weights, ViT-S/16 and ViT-B/16 at batch 1, 8 and 64, alternating, one table and one JSON file.
#
#   tools/gpu_check.sh [--build DIR] [--debs DIR] [--out DIR] [--device N] [--quick] [--no-tests] [--no-bench]
#
# --device N takes Vulkan device N instead of the first discrete GPU (a dry run on lavapipe:
# --device 0 --no-tests --no-bench); --quick benches batch 1 and 64 only, 2 rounds.
# It runs from binaries built on another Linux machine (x86-64, glibc >= 2.34): vitscope-cli
# and vitscope-tests need only libvulkan.so.1, libz.so.1, libstdc++, libgcc_s, libm and libc
# (`ldd build/app/vitscope-cli`), so a machine with no compiler runs it. Carry the build folder
# (about 14 MiB without objects) and the repository (tests/golden, tools/); if the machine has
# no Vulkan loader, carry Debian's libvulkan1 .deb (and vulkan-validationlayers for the
# validation layer) in --debs DIR: they are unpacked into / first. The tests find their data
# through the absolute source and build paths compiled into them (build/CMakeCache.txt names
# them); where those paths do not exist here they are linked to this checkout.
#
# Writes, under --out (default docs/bench): gpu-check-<date>.log (everything) and
# gpu-<date>.json (bench_vs_pytorch.py's rows with device, driver and command); prints the
# markdown table for docs/performance.md at the end. Exit status: 1 if selftest or ctest failed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
DEBS=""
OUT=$ROOT/docs/bench
QUICK=0
DEV=""
TESTS=1
BENCH=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --debs) DEBS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --device) DEV=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --no-tests) TESTS=0; shift ;;
    --no-bench) BENCH=0; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
CLI=$BUILD/app/vitscope-cli
TESTBIN=$BUILD/tests/vitscope-tests
[ -x "$CLI" ] || { echo "gpu_check.sh: $CLI not found (build first, or --build DIR)" >&2; exit 2; }
mkdir -p "$OUT"
STAMP=$(date -u +%Y-%m-%dT%H%M)
LOG=$OUT/gpu-check-$STAMP.log
exec > >(tee "$LOG") 2>&1
say() { printf '\n== %s\n' "$*"; }
FAILED=0

say "setup"
if [ -n "$DEBS" ]; then
  for f in "$DEBS"/*.deb; do [ -e "$f" ] && dpkg -x "$f" / && echo "unpacked $(basename "$f")"; done
  ldconfig
fi
ldconfig -p | grep -q 'libvulkan\.so\.1' || { echo "no Vulkan loader (libvulkan.so.1): pass --debs DIR with libvulkan1*.deb" >&2; exit 1; }
# NVIDIA containers often keep the ICD manifest outside the loader's search path.
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -z "${VK_ICD_FILENAMES:-}" ] &&
   [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
   ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  echo "VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi
# The compiled-in source and build paths of the tests (goldens, the CLI they run, ctest's files).
if [ -f "$BUILD/CMakeCache.txt" ]; then
  for p in "$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt")|$ROOT" \
           "$(sed -n 's/^# For build in directory: //p' "$BUILD/CMakeCache.txt")|$BUILD"; do
    want=${p%%|*} have=${p##*|}
    if [ -n "$want" ] && [ ! -e "$want" ]; then
      mkdir -p "$(dirname "$want")" && ln -s "$have" "$want" && echo "linked $want -> $have"
    fi
  done
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "vitscope-cli needs: $(ldd "$CLI" | awk '{print $1}' | tr '\n' ' ')"

say "devices"
"$CLI" devices || FAILED=1
[ -n "$DEV" ] || DEV=$("$CLI" devices --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
gpus = [x for x in d if x["type"] == "discrete"] or [x for x in d if x["type"] == "integrated"]
print(gpus[0]["index"] if gpus else "")')
if [ -z "$DEV" ]; then
  echo "gpu_check.sh: no discrete (or integrated) GPU among the Vulkan devices above" >&2
  exit 1
fi
export VITSCOPE_DEVICE=$DEV
FAMILIES=$("$CLI" devices --json | python3 -c "
import json, sys
print(' '.join(json.load(sys.stdin)[$DEV]['kernel_families']))")
echo "device $DEV, kernel families: $FAMILIES"

say "selftest (validation on)"
for fam in $FAMILIES; do
  VITSCOPE_VALIDATE=1 "$CLI" selftest --kernels "$fam" || FAILED=1
done

if [ "$TESTS" = 1 ] && [ -x "$TESTBIN" ]; then
  say "test suite (validation on, device $DEV)"
  if command -v ctest >/dev/null && [ -f "$BUILD/CTestTestfile.cmake" ]; then
    ctest --test-dir "$BUILD" --output-on-failure -j 4 || FAILED=1
  else  # no CMake here: the doctest binary holds every test case
    VITSCOPE_VALIDATE=1 "$TESTBIN" || FAILED=1
    for fam in $FAMILIES; do
      [ "$fam" = auto ] && continue
      VITSCOPE_VALIDATE=1 VITSCOPE_KERNELS=$fam "$TESTBIN" \
        "--test-case=random ViT:*,golden:*,selftest: every kernel*,kernel families: the test context*" || FAILED=1
    done
  fi
fi

if [ "$BENCH" = 1 ]; then
  say "bench against PyTorch CUDA eager"
  batches=1,8,64 rounds=3
  [ "$QUICK" = 1 ] && batches=1,64 rounds=2
  kernels=auto
  case " $FAMILIES " in *" coopmat "*) kernels=auto,coopmat ;; esac
  python3 "$ROOT/tools/bench_vs_pytorch.py" --cli "$CLI" --models s,b --batches "$batches" --rounds "$rounds" \
    --torch-device cuda --torch-dtype fp32,fp16 --kernels "$kernels" --json "$OUT/gpu-$STAMP.json" --markdown ||
    FAILED=1
fi

say "done: log $LOG$([ "$FAILED" = 1 ] && echo ', SOMETHING FAILED (see above)')"
exit $FAILED
