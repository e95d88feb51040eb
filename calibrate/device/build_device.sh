#!/usr/bin/env bash
# On the CPU machine, from the repository root: build `ringlab` with CUDA (calibrate, run, sim, fit-profile in one
# binary) in BUILD (default build-cal, configured -DRINGLAB_CUDA=ON -DRINGLAB_VIEWER=OFF) and copy it into
# .device-exec/ as ringlab-cal, with libcudart (NCCL comes from PyTorch's copy on the GPU machine, device_env.sh),
# bench/device_env.sh and commit.txt. Then on a 4-GPU machine: carry [".device-exec"],
# `bash calibrate/device/calibrate_and_grid.sh`.
set -euo pipefail
BUILD=${1:-build-cal}
D=.device-exec
cmake --build "$BUILD" --target ringlab -j 2
mkdir -p $D
cp "$BUILD/apps/ringlab" $D/ringlab-cal
for lib in $(ldd $D/ringlab-cal | awk '/=> \// {print $3}' | sort -u); do
  case "$(basename $lib)" in
    libcudart.so*|libspdlog.so*|libfmt.so*) cp -L "$lib" $D/ ;;
  esac
done
cp bench/device_env.sh $D/
git rev-parse --short HEAD > $D/commit.txt
if ! git diff --quiet HEAD -- kernels apps sim core calibrate; then echo "+uncommitted" >> $D/commit.txt; fi
grep -qx '/.device-exec/' .git/info/exclude 2>/dev/null || echo '/.device-exec/' >> .git/info/exclude
du -sh $D; ls $D
