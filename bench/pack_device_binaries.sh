#!/usr/bin/env bash
# Packs GPU binaries built on this (CPU) machine for a device call, so the call need not spend minutes building:
#   bash bench/pack_device_binaries.sh BUILD DEST [TARGET_PATH...]
# BUILD: a CUDA build tree (scripts/build.sh with CUDA, sm_90a); TARGET_PATHs relative to it (default: ringlab, the
# GPU kernel tests and the kernel benchmarks). Writes DEST/bins.tar.xz: the stripped binaries in BUILD's tree layout
# and, under lib/, the shared libraries they need that neither the device nor bench/fetch_device_debs.sh's packages
# provide (libprotobuf). DEST must be git-ignored; name it in the device call's carry. On the device, scripts that take
# a prebuilt folder (bench/kernels/device_d256_masks.sh) unpack it.
set -euo pipefail
build=$1 dest=$2; shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(apps/ringlab tests/cuda/ringlab_cuda_mask_test tests/cuda/ringlab_cuda_backward_test
  tests/cuda/ringlab_cuda_kernels_test bench/kernels/ringlab_mask_bench bench/kernels/ringlab_attention_bench)
mkdir -p "$dest"
git check-ignore -q "$dest" || { echo "pack_device_binaries: $dest is not git-ignored (add it to .gitignore)" >&2; exit 2; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib"
for t in "${targets[@]}"; do
  [ -x "$build/$t" ] || { echo "pack_device_binaries: $build/$t is not built" >&2; exit 2; }
  mkdir -p "$stage/$(dirname "$t")"
  strip -o "$stage/$t" "$build/$t"
done
for t in "${targets[@]}"; do ldd "$build/$t"; done | awk '/libprotobuf/ {print $3}' | sort -u | while read -r lib; do
  cp -L "$lib" "$stage/lib/"
done
tar cJf "$dest/bins.tar.xz.tmp" -C "$stage" .
mv "$dest/bins.tar.xz.tmp" "$dest/bins.tar.xz"
echo "pack_device_binaries: $dest/bins.tar.xz ($(du -h "$dest/bins.tar.xz" | cut -f1)): ${targets[*]}"
