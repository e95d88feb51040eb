#!/usr/bin/env bash
# Configures and builds ringlab into ./build (Release). CUDA parts build when nvcc is found (RINGLAB_CUDA=AUTO).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${RINGLAB_CMAKE_ARGS:-} > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc)" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "build: ok (log in build.log)"
