// Return-code checks of the calibration microbenchmarks: the project's one CUDA/NCCL check family
// (kernels/cuda/cuda_check.h, kernels/cuda/nccl_check.h) on top of core/status.h, so a failed CUDA, NCCL or launcher
// call comes back as a Status naming the call (no abort: `ringlab calibrate` reports it and exits 3); and device
// memory freed on scope exit.
//
//   RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventCreate(&e));
//   RINGLAB_NCCL_RETURN_IF_ERROR(ncclGroupEnd());
//   RINGLAB_RETURN_IF_ERROR(cuda::LaunchForward(p, stream));   // the launchers return Status
#pragma once

#include <cuda_runtime.h>

#include "core/status.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/nccl_check.h"

namespace ringlab::calibrate {

// Device memory freed on scope exit (errors on free are ignored: the process is ending or the run already failed).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  Status Allocate(size_t bytes) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    return cuda::CudaStatus(cudaMalloc(&ptr_, bytes > 0 ? bytes : 1), "cudaMalloc");
  }
  template <typename T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

}  // namespace ringlab::calibrate
