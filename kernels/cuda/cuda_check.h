// The CUDA error checks of the kernels, the GPU executor, their tests and the benchmark: one family built on Status
// (core/status.h).
//
//   RINGLAB_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, n));   // library code: returns Status::Internal("cudaMalloc(&p, n): ...")
//   Status s = CudaStatus(cudaStreamSynchronize(st), "waiting for the stream");   // the same, as a value
//   RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());       // only where no Status can be returned (see below)
//
// NCCL calls have the same pair in kernels/cuda/nccl_check.h.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/status.h"

namespace ringlab::cuda {

// Ok for cudaSuccess, else Status::Internal("<what>: <CUDA's error string>").
inline Status CudaStatus(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return Status::Ok();
  return Status::Internal(std::string(what) + ": " + cudaGetErrorString(error));
}

}  // namespace ringlab::cuda

// Returns the failed call as a Status from the enclosing function (which returns Status).
#define RINGLAB_CUDA_RETURN_IF_ERROR(expr) RINGLAB_RETURN_IF_ERROR(::ringlab::cuda::CudaStatus((expr), #expr))

// Aborts with file:line and the message when a CUDA call fails. For test fixtures and benchmark programs only, where
// no Status can be returned (constructors, void helpers, main); library code uses RINGLAB_CUDA_RETURN_IF_ERROR.
#define RINGLAB_CUDA_CHECK(expr)                                                                         \
  do {                                                                                                   \
    const ::ringlab::Status ringlab_cuda_status_ = ::ringlab::cuda::CudaStatus((expr), #expr);           \
    if (!ringlab_cuda_status_.ok()) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, ringlab_cuda_status_.message().c_str());  \
      std::abort();                                                                                      \
    }                                                                                                    \
  } while (0)
