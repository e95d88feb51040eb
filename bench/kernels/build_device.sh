#!/usr/bin/env bash
# Builds the kernel test and benchmark binaries for sm_90 with nvcc into .device/ (git-ignored), without CMake,
# together with the shared libraries and peer scripts a GPU machine needs: then `run` with carry [".device"] and
# `bash bench/kernels/run_on_gpu.sh` there. Run from the repository root on the CPU machine.
set -euo pipefail
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
OUT=.device
mkdir -p $OUT/obj
FLAGS=(-std=c++20 -O3 -I. -I/usr/include/eigen3)
CUFLAGS=("${FLAGS[@]}" -arch=sm_90 --use_fast_math -lineinfo --expt-relaxed-constexpr)
pids=()
for f in attention_forward attention_backward_prepare attention_backward attention_backward_v5; do
  $NVCC "${CUFLAGS[@]}" -Xptxas=-v -c kernels/cuda/$f.cu -o $OUT/obj/$f.o 2> $OUT/obj/$f.ptxas.txt &
  pids+=($!)
done
g++ "${FLAGS[@]}" -c kernels/cuda/attention_checks.cc -o $OUT/obj/attention_checks.o
g++ "${FLAGS[@]}" -c kernels/cpu/reference_attention.cc -o $OUT/obj/reference_attention.o
g++ "${FLAGS[@]}" -I/usr/local/cuda/include -c tests/cuda/attention_kernels_test.cc -o $OUT/obj/attention_kernels_test.o
$NVCC "${CUFLAGS[@]}" -c bench/kernels/attention_bench.cu -o $OUT/obj/attention_bench.o
for p in "${pids[@]}"; do wait $p; done
grep -hE "Function properties|registers|spill" $OUT/obj/*.ptxas.txt | paste - - - > $OUT/ptxas_summary.txt || true
KOBJ=($OUT/obj/attention_forward.o $OUT/obj/attention_backward_prepare.o $OUT/obj/attention_backward.o
  $OUT/obj/attention_backward_v5.o $OUT/obj/attention_checks.o)
$NVCC -arch=sm_90 -o $OUT/ringlab_cuda_kernels_test $OUT/obj/attention_kernels_test.o $OUT/obj/reference_attention.o \
  "${KOBJ[@]}" -lgtest_main -lgtest -lpthread
$NVCC -arch=sm_90 -o $OUT/ringlab_attention_bench $OUT/obj/attention_bench.o "${KOBJ[@]}"
# Optional variants of the benchmark with another dQ reduction (see attention_backward.cu): BWD_RED_VARIANTS="0 1".
for v in ${BWD_RED_VARIANTS:-}; do
  $NVCC "${CUFLAGS[@]}" -DRINGLAB_BWD_DQ_RED=$v -c kernels/cuda/attention_backward.cu -o $OUT/obj/attention_backward_red$v.o
  $NVCC -arch=sm_90 -o $OUT/bench_red$v $OUT/obj/attention_bench.o $OUT/obj/attention_forward.o \
    $OUT/obj/attention_backward_prepare.o $OUT/obj/attention_backward_red$v.o $OUT/obj/attention_backward_v5.o \
    $OUT/obj/attention_checks.o
done
cp ../shared/bench/device_env.sh ../shared/bench/torch_cp_bench.py $OUT/
git rev-parse --short HEAD > $OUT/commit.txt 2>/dev/null || echo unknown > $OUT/commit.txt
ls -la $OUT
