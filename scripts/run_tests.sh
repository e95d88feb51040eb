#!/usr/bin/env bash
# README command 2: set up, build, and run every test. GPU tests skip (with their reason) where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_debian.sh
scripts/build.sh
scripts/setup_python.sh  # the notebooks run as a test (pinned packages from PyPI into ./.venv)
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900
