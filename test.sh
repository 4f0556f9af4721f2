#!/usr/bin/env bash
# Builds vitscope and runs the whole test suite on the default Vulkan device
# (lavapipe on a machine without a GPU) with the Khronos validation layer on.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install-deps.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/vitscope-xdg.XXXXXX)}"
chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
