// Host-side launch helpers shared by the attention launchers: the (element type, head dim) dispatch onto the
// templated kernels and the one launch wrapper every kernel goes through. Only included by .cu files (it names CUDA
// runtime types and launches kernels).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <type_traits>
#include <unordered_map>

#include "core/status.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"

namespace ringlab::cuda::detail {

// Raises `kernel`'s dynamic shared-memory limit to `bytes` on the current device, once per device and kernel
// (`configured` is the kernel's own bit set of devices). The limit is a per-device attribute: a process driving
// several GPUs must raise it on each.
template <typename Kernel>
Status RaiseSharedMemoryLimit(Kernel kernel, int bytes, std::atomic<uint64_t>& configured) {
  int device = 0;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  if (device >= 64 || !((configured.load() >> device) & 1)) {
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    if (device < 64) configured.fetch_or(uint64_t{1} << device);
  }
  return Status::Ok();
}

// The set of devices on which `kernel`'s shared-memory limit was raised: one per kernel function, since one
// LaunchTiled instantiation launches several (the dense and the masked kernel of one (Tiles, T, D) share its types).
inline std::atomic<uint64_t>& ConfiguredDevices(const void* kernel) {
  static std::mutex mu;
  static std::unordered_map<const void*, std::unique_ptr<std::atomic<uint64_t>>> sets;
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<std::atomic<uint64_t>>& set = sets[kernel];
  if (!set) set = std::make_unique<std::atomic<uint64_t>>(0);
  return *set;
}

// Launches kernel<<<grid, Tiles::kThreads, Tiles::SmemBytes<D>(), stream>>>(args), the kernel instantiation for
// element type T and head dim D, first raising its shared-memory limit (once per device and kernel). Returns the
// launch error if any.
template <typename Tiles, typename T, int D, typename Args>
Status LaunchTiled(void (*kernel)(Args), dim3 grid, cudaStream_t stream, const Args& args) {
  constexpr int smem = Tiles::template SmemBytes<D>();
  RINGLAB_RETURN_IF_ERROR(
      RaiseSharedMemoryLimit(kernel, smem, ConfiguredDevices(reinterpret_cast<const void*>(kernel))));
  kernel<<<grid, Tiles::kThreads, smem, stream>>>(args);
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::Ok();
}

// Grid of `tokens` in tiles of `tile` (x) by `rows` batch x head rows (y).
inline dim3 TileGrid(int64_t tokens, int tile, int rows) {
  return dim3(static_cast<unsigned>((tokens + tile - 1) / tile), static_cast<unsigned>(rows));
}

// Calls launch(T{}, std::integral_constant<int, D>{}) with the element type and head dim that the templated kernels
// are instantiated for (64 or 128; 256 too where kMaxHeadDim is 256: checked before) and returns its result.
template <int kMaxHeadDim = 128, typename Launch>
Status DispatchElementAndHeadDim(ElementType element, int head_dim, Launch launch) {
  using D256 = std::integral_constant<int, 256>;
  using D128 = std::integral_constant<int, 128>;
  using D64 = std::integral_constant<int, 64>;
  const bool bf16 = element == ElementType::kBFloat16;
  if constexpr (kMaxHeadDim >= 256) {
    if (head_dim == 256) return bf16 ? launch(__nv_bfloat16{}, D256{}) : launch(__half{}, D256{});
  }
  if (head_dim == 128) return bf16 ? launch(__nv_bfloat16{}, D128{}) : launch(__half{}, D128{});
  return bf16 ? launch(__nv_bfloat16{}, D64{}) : launch(__half{}, D64{});
}

}  // namespace ringlab::cuda::detail
