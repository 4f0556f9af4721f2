#!/usr/bin/env bash
# Installs the Debian (bookworm) packages vitscope builds, runs and tests with.
# Uses sudo only when not root. Set VITSCOPE_SKIP_APT=1 to skip. Extra package names given
# as arguments are installed in the same apt-get run (CI adds clang for the fuzz smoke).
set -euo pipefail
[ "${VITSCOPE_SKIP_APT:-0}" = 1 ] && exit 0
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers glslang-tools
  libimgui-dev libglfw3-dev libstb-dev doctest-dev nlohmann-json3-dev libcli11-dev zlib1g-dev libzip-dev
  xvfb xauth
  file  # cpack's .deb: dpkg-shlibdeps runs on the files that `file` says are ELF
  libyaml-cpp-dev  # PaddleClas YAML configs
  "$@"
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
