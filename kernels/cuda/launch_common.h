// Host-side helper shared by the attention launchers. Only included by .cu files (it names CUDA runtime types).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/attention_kernels.h"
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

// Calls launch(T{}, std::integral_constant<int, D>{}) with the element type and head dim (128, else 64: checked
// before) that the templated kernels are instantiated for, and returns its result.
template <typename Launch>
const char* DispatchElementAndHeadDim(ElementType element, int head_dim, Launch launch) {
  using D128 = std::integral_constant<int, 128>;
  using D64 = std::integral_constant<int, 64>;
  const bool bf16 = element == ElementType::kBFloat16;
  if (head_dim == 128) return bf16 ? launch(__nv_bfloat16{}, D128{}) : launch(__half{}, D128{});
  return bf16 ? launch(__nv_bfloat16{}, D64{}) : launch(__half{}, D64{});
}

}  // namespace ringlab::cuda::detail
