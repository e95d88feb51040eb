#include "kernels/cuda/rank_resources.h"

#include <chrono>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace ringlab::gpu::detail {

int64_t NowNs() {
  using Clock = std::chrono::steady_clock;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

Status CreateRankResources(Rank& r) {
  auto check = [&](cudaError_t e, const char* what) {
    const Status s = cuda::CudaStatus(e, what);
    return s.ok() ? s : Status::Internal("GPU " + std::to_string(r.device) + ": " + s.message());
  };
  RINGLAB_RETURN_IF_ERROR(check(cudaSetDevice(r.device), "cudaSetDevice"));
  RINGLAB_RETURN_IF_ERROR(check(cudaStreamCreateWithFlags(&r.compute, cudaStreamNonBlocking), "cudaStreamCreate"));
  RINGLAB_RETURN_IF_ERROR(check(cudaStreamCreateWithFlags(&r.comm_stream, cudaStreamNonBlocking), "cudaStreamCreate"));
  for (cudaEvent_t* e : {&r.iter_start, &r.iter_end, &r.join, &r.init})
    RINGLAB_RETURN_IF_ERROR(check(cudaEventCreate(e), "cudaEventCreate"));
  RINGLAB_RETURN_IF_ERROR(check(cudaMalloc(&r.scratch, 16), "cudaMalloc"));
  RINGLAB_RETURN_IF_ERROR(check(cudaMemset(r.scratch, 0, 16), "cudaMemset"));
  r.owns_resources = true;
  return Status::Ok();
}

void DestroyRankResources(Rank& r) {
  if (!r.owns_resources) return;
  cudaSetDevice(r.device);
  for (cudaEvent_t e : {r.iter_start, r.iter_end, r.join, r.init}) cudaEventDestroy(e);
  cudaStreamDestroy(r.compute);
  cudaStreamDestroy(r.comm_stream);
  cudaFree(r.scratch);
  r.owns_resources = false;
}

}  // namespace ringlab::gpu::detail
