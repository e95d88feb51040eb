// Return-code checks for the calibration microbenchmarks: a failed CUDA, NCCL or launcher call returns a Status
// naming the call and the library's message (no abort: `ringlab calibrate` reports it and exits 3).
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <string>

#include "core/status.h"

#define CAL_CUDA(expr)                                                                                  \
  do {                                                                                                  \
    const cudaError_t cal_err_ = (expr);                                                                \
    if (cal_err_ != cudaSuccess)                                                                        \
      return ::ringlab::Status::Internal(std::string(#expr) + " failed: " + cudaGetErrorString(cal_err_)); \
  } while (0)

#define CAL_NCCL(expr)                                                                                  \
  do {                                                                                                  \
    const ncclResult_t cal_res_ = (expr);                                                               \
    if (cal_res_ != ncclSuccess)                                                                        \
      return ::ringlab::Status::Internal(std::string(#expr) + " failed: " + ncclGetErrorString(cal_res_)); \
  } while (0)

// The kernel launchers return a Status.
#define CAL_LAUNCH(expr)                                                                                \
  do {                                                                                                  \
    const ::ringlab::Status cal_launch_ = (expr);                                                       \
    if (!cal_launch_.ok())                                                                              \
      return ::ringlab::Status::Internal(std::string(#expr) + " failed: " + cal_launch_.message());     \
  } while (0)

#define CAL_RETURN_IF_ERROR(expr)        \
  do {                                   \
    ::ringlab::Status cal_st_ = (expr);  \
    if (!cal_st_.ok()) return cal_st_;   \
  } while (0)

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
    CAL_CUDA(cudaMalloc(&ptr_, bytes > 0 ? bytes : 1));
    return Status::Ok();
  }
  template <typename T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

}  // namespace ringlab::calibrate
