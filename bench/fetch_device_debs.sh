#!/usr/bin/env bash
# On the CPU machine (Debian 12), from the repository root: downloads the .deb files of the Debian libraries that
# ringlab builds with into .devdeps/ (git-ignored) so that bench/device_build.sh can build on a GPU machine.
set -euo pipefail
mkdir -p .devdeps
grep -qsx '/.devdeps/' .git/info/exclude || { mkdir -p .git/info; echo '/.devdeps/' >> .git/info/exclude; }
cd .devdeps
apt-get download libeigen3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev \
  libgtest-dev googletest 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls
