// The GPU executor's launch environment (internal to kernels/cuda): how the processes of a job find one another.
// LaunchFromEnvironment (declared in gpu_executor.h, defined in launch_environment.cc) reads the rank layout from the
// launcher's variables; ShareNcclUniqueId moves rank 0's NCCL id to every process of a multi-process job.
#pragma once

#include <nccl.h>

#include <string>

#include "core/status.h"
#include "kernels/cuda/gpu_executor.h"

namespace ringlab::gpu::detail {

// Root process: creates the id. Multi-process jobs: sends it through launch.nccl_id_file (then *abort_file is the
// file the processes use to tell one another of a failure) or a TCP exchange on master_addr:master_port. One process
// driving every rank needs no exchange.
Status ShareNcclUniqueId(const Launch& launch, ncclUniqueId* id, std::string* abort_file);

}  // namespace ringlab::gpu::detail
