// Host-side helper shared by the attention launchers. Only included by .cu files (it names CUDA runtime types).
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"

namespace ringlab::cuda::detail {

// Raises `kernel`'s dynamic shared-memory limit to `bytes` on the current device, once per device and kernel
// (`configured` is the kernel's own bit set of devices). The limit is a per-device attribute: a process driving
// several GPUs must raise it on each. Returns an error message, empty on success.
template <typename Kernel>
const char* RaiseSharedMemoryLimit(Kernel kernel, int bytes, std::atomic<uint64_t>& configured) {
  int device = 0;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  if (device >= 64 || !((configured.load() >> device) & 1)) {
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    if (device < 64) configured.fetch_or(uint64_t{1} << device);
  }
  return "";
}

}  // namespace ringlab::cuda::detail
