#!/usr/bin/env bash
# Builds the kernel test and benchmark binaries (sm_90; the wgmma kernels sm_90a) with nvcc into .device/ (git-ignored),
# without CMake, together with the shared libraries and peer scripts a GPU machine needs: then `run` with carry
# [".device"] and `bash bench/kernels/run_on_gpu.sh` there. Run from the repository root on the CPU machine.
set -euo pipefail
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
OUT=.device
mkdir -p $OUT/obj
FLAGS=(-std=c++20 -O3 -I. -I/usr/include/eigen3)
CUFLAGS=("${FLAGS[@]}" --use_fast_math -lineinfo --expt-relaxed-constexpr)
pids=()
# The portable (mma.sync) kernels for sm_90, the Hopper (wgmma) ones for sm_90a only: the CMake build's split.
for fa in attention_forward_mma:sm_90 attention_backward_prepare:sm_90 attention_backward_mma:sm_90 \
          attention_forward_wgmma:sm_90a attention_backward_wgmma:sm_90a; do
  f=${fa%%:*}
  $NVCC "${CUFLAGS[@]}" -gencode arch=compute_${fa##*:sm_},code=${fa##*:} -Xptxas=-v -c kernels/cuda/$f.cu \
    -o $OUT/obj/$f.o 2> $OUT/obj/$f.ptxas.txt &
  pids+=($!)
done
g++ "${FLAGS[@]}" -I/usr/local/cuda/include -c kernels/cuda/attention_checks.cc -o $OUT/obj/attention_checks.o
g++ "${FLAGS[@]}" -c kernels/cuda/attention_dispatch.cc -o $OUT/obj/attention_dispatch.o
g++ "${FLAGS[@]}" -c kernels/cpu/reference_attention.cc -o $OUT/obj/reference_attention.o
g++ "${FLAGS[@]}" -I/usr/local/cuda/include -c tests/cuda/attention_kernels_test.cc -o $OUT/obj/attention_kernels_test.o
$NVCC "${CUFLAGS[@]}" -arch=sm_90 -c bench/kernels/attention_bench.cu -o $OUT/obj/attention_bench.o
for p in "${pids[@]}"; do wait $p; done
grep -hE "Function properties|registers|spill" $OUT/obj/*.ptxas.txt | paste - - - > $OUT/ptxas_summary.txt || true
KOBJ=($OUT/obj/attention_forward_mma.o $OUT/obj/attention_backward_prepare.o $OUT/obj/attention_backward_mma.o
  $OUT/obj/attention_forward_wgmma.o $OUT/obj/attention_backward_wgmma.o $OUT/obj/attention_checks.o
  $OUT/obj/attention_dispatch.o)
$NVCC -arch=sm_90 -o $OUT/ringlab_cuda_kernels_test $OUT/obj/attention_kernels_test.o $OUT/obj/reference_attention.o \
  "${KOBJ[@]}" -lgtest_main -lgtest -lpthread
$NVCC -arch=sm_90 -o $OUT/ringlab_attention_bench $OUT/obj/attention_bench.o "${KOBJ[@]}"
cp ../shared/bench/device_env.sh ../shared/bench/torch_cp_bench.py $OUT/
git rev-parse --short HEAD > $OUT/commit.txt 2>/dev/null || echo unknown > $OUT/commit.txt
ls -la $OUT
