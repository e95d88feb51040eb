#!/usr/bin/env bash
# On the CPU machine, from the repository root: builds `ringlab` (with CUDA it has `run`) and the GPU tests for sm_90
# in BUILD (default build-gpu, configured with -DRINGLAB_CUDA=ON -DRINGLAB_VIEWER=OFF) and copies what a GPU machine
# needs into .device-exec/ (git-ignored): the binaries, libcudart (NCCL comes from PyTorch's copy there), the merge
# script and device_env.sh (the peer runs from bench/peer/ in the working tree). Then: run with carry [".device-exec"] and `bash bench/cp/run_on_gpus.sh`.
set -euo pipefail
BUILD=${1:-build-gpu}
D=.device-exec
cmake --build "$BUILD" --target ringlab ringlab_gpu_executor_test ringlab_gpu_fault_test
mkdir -p $D
cp "$BUILD/apps/ringlab" "$BUILD/tests/gpu/ringlab_gpu_executor_test" "$BUILD/tests/gpu/ringlab_gpu_fault_test" $D/
for lib in $(ldd $D/ringlab $D/ringlab_gpu_executor_test | awk '/=> \// {print $3}' | sort -u); do
  case "$(basename $lib)" in
    libcudart.so*|libspdlog.so*|libfmt.so*|libgtest*.so*) cp -L "$lib" $D/ ;;
  esac
done
cp bench/device_env.sh bench/cp/merge_results.py $D/
git rev-parse --short HEAD > $D/commit.txt
grep -qx '/.device-exec/' .git/info/exclude 2>/dev/null || echo '/.device-exec/' >> .git/info/exclude
du -sh $D; ls $D
