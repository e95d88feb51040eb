#!/usr/bin/env bash
# Configures and builds ringlab into ./build (Release). CUDA parts build when nvcc is found (RINGLAB_CUDA=AUTO).
# Where ccache is installed it caches compiles, keyed relative to the checkout (CCACHE_BASEDIR), so a second clone of
# the same sources rebuilds from the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache > /dev/null 2>&1; then
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" ${RINGLAB_CMAKE_ARGS:-} > build.log 2>&1 \
  || { cat build.log; exit 1; }
cmake --build build -j "$(nproc)" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "build: ok (log in build.log)"
