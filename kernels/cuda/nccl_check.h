// NCCL's half of the CUDA/NCCL check family (kernels/cuda/cuda_check.h): a failed NCCL call becomes a Status.
//
//   RINGLAB_NCCL_RETURN_IF_ERROR(ncclGroupEnd());
//   Status s = NcclStatus(ncclCommInitRank(&comm, world, id, rank), "ncclCommInitRank");
#pragma once

#include <nccl.h>

#include <string>

#include "core/status.h"

namespace ringlab::gpu {

// Ok for ncclSuccess and ncclInProgress (a non-blocking communicator's call still running), else
// Status::Internal("<what>: <NCCL's error string>").
inline Status NcclStatus(ncclResult_t result, const char* what) {
  if (result == ncclSuccess || result == ncclInProgress) return Status::Ok();
  return Status::Internal(std::string(what) + ": " + ncclGetErrorString(result));
}

}  // namespace ringlab::gpu

// Returns the failed call as a Status from the enclosing function (which returns Status).
#define RINGLAB_NCCL_RETURN_IF_ERROR(expr) RINGLAB_RETURN_IF_ERROR(::ringlab::gpu::NcclStatus((expr), #expr))
