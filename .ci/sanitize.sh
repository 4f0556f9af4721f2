#!/bin/sh
# Sanitizer CI: builds everything with -fsanitize=address,undefined (VITSCOPE_SANITIZE=ON)
# and runs the whole ctest suite on the default Vulkan device (lavapipe in CI) with the
# validation layer on, synchronization checks included. Leaks are reported except the
# ones inside the Vulkan loader/driver/layer listed, with reasons, in tests/lsan.supp.
# Usage: .ci/sanitize.sh [build-dir]      (default: build-asan; the desktop app is built too,
# so that its screenshot test runs under the sanitizers like every other test)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-asan}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)  # absolute: LD_PRELOAD below must resolve from every test's directory
: "${XDG_RUNTIME_DIR:=/tmp/xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export XDG_RUNTIME_DIR

# -O1 -g1: what ASan recommends for speed with usable reports (function names and line
# numbers); about half the compile time of RelWithDebInfo's -O2 -g under ASan.
# BUILD_JOBS: ninja's -j (default: ninja's own choice).
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DVITSCOPE_SANITIZE=ON >/dev/null
ninja -C "$BUILD" ${BUILD_JOBS:+-j "$BUILD_JOBS"}

# Keep the Vulkan layer and driver mapped until exit (RTLD_NODELETE), so that LeakSanitizer
# can name them and tests/lsan.supp can match them by library name.
cat > "$BUILD/keep_vulkan_modules.c" <<'EOF_C'
#include <dlfcn.h>
__attribute__((constructor)) static void keep_vulkan_modules(void) {
  static const char* const libs[] = {"libVkLayer_khronos_validation.so", "libvulkan_lvp.so", 0};
  for (int i = 0; libs[i]; ++i) dlopen(libs[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}
EOF_C
cc -shared -fPIC -O2 -o "$BUILD/libkeep_vulkan_modules.so" "$BUILD/keep_vulkan_modules.c" -ldl
export LD_PRELOAD="$BUILD/libkeep_vulkan_modules.so${LD_PRELOAD:+:$LD_PRELOAD}"

# detect_leaks: LeakSanitizer at exit of every test process and every CLI the tests run.
# verify_asan_link_order=0: the shim above is preloaded ahead of the ASan runtime.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:verify_asan_link_order=0:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir "$BUILD" --output-on-failure -j "${CTEST_JOBS:-2}" --timeout 1200
