// Small CUDA error-check helpers shared by the kernels, their tests and the benchmark.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

// Aborts with file:line and the CUDA error string when a runtime call fails. For host programs (tests, benchmarks).
#define RINGLAB_CUDA_CHECK(expr)                                                                      \
  do {                                                                                                \
    cudaError_t ringlab_err_ = (expr);                                                                \
    if (ringlab_err_ != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,                       \
                   cudaGetErrorString(ringlab_err_));                                                 \
      std::abort();                                                                                   \
    }                                                                                                 \
  } while (0)

// Inside a launcher that returns const char*: returns the CUDA error string when the call failed.
#define RINGLAB_CUDA_RETURN_IF_ERROR(expr)                  \
  do {                                                      \
    cudaError_t ringlab_err_ = (expr);                      \
    if (ringlab_err_ != cudaSuccess) {                      \
      return cudaGetErrorString(ringlab_err_);              \
    }                                                       \
  } while (0)
