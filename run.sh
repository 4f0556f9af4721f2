#!/usr/bin/env bash
# Builds vitscope and runs the main job: the desktop app on the bundled Fashion-MNIST
# ViT and a sample image, or, on a machine with no display, the headless classification.
set -euo pipefail
cd "$(dirname "$0")"
bash tools/install-deps.sh
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d /tmp/vitscope-xdg.XXXXXX)}"
chmod 700 "$XDG_RUNTIME_DIR" 2>/dev/null || true
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
sample=$(ls assets/samples/bag_*.png 2>/dev/null | head -n 1 || true)
if { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; } && [ -x build/app/vitscope ]; then
  exec build/app/vitscope ${sample:+"$sample"} "$@"
fi
echo "No display: running the headless classification instead of the desktop app."
exec build/app/vitscope-cli classify ${sample:+--image "$sample"} "$@"
