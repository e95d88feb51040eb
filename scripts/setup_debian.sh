#!/usr/bin/env bash
# Installs the Debian 12 packages ringlab builds and tests with. Idempotent and non-interactive: packages already
# present are not touched, so a second run takes a second.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libeigen3-dev libspdlog-dev nlohmann-json3-dev libcli11-dev libgtest-dev
          libglfw3-dev libimgui-dev libstb-dev zlib1g-dev xvfb xauth python3
          libprotobuf-dev protobuf-compiler nodejs)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
