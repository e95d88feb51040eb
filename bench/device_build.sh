#!/usr/bin/env bash
# Builds ringlab on a lent GPU machine, which has nvcc, CMake, ninja and PyTorch's NCCL/cuDNN but none of Debian's
# libraries: their .deb files travel in DEBS (default .devdeps, filled on the CPU machine by
# `bench/fetch_device_debs.sh`) and are unpacked into /tmp/ringlab-deps, never into /.
#   bash bench/device_build.sh SRC BUILD TARGET...      e.g. bash bench/device_build.sh . /tmp/b-new ringlab
# Source bench/device_env.sh first (NCCL headers). Prints the configure/build log's tail on failure and exits 1.
set -euo pipefail
src=$1 build=$2; shift 2
debs=${DEBS:-.devdeps}
deps=/tmp/ringlab-deps
if [ ! -d $deps/usr ]; then
  mkdir -p $deps
  for f in "$debs"/*.deb; do dpkg -x "$f" $deps; done
fi
export LD_LIBRARY_PATH=$deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
log=$build.log
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRINGLAB_CUDA=ON -DRINGLAB_VIEWER=OFF \
  -DCMAKE_PREFIX_PATH="$deps/usr;$deps/usr/lib/x86_64-linux-gnu/cmake" -DEigen3_DIR=$deps/usr/share/eigen3/cmake \
  -DCMAKE_CXX_FLAGS="-I$deps/usr/include -I$deps/usr/include/eigen3" > "$log" 2>&1 || { tail -40 "$log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target "$@" >> "$log" 2>&1 || { grep -E "error|Error" "$log" | head -30; tail -20 "$log"; exit 1; }
echo "device_build: $src -> $build: $* built"
