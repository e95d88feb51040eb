#include "kernels/cuda/launch_environment.h"

#include <cuda_runtime.h>

#include <cstdlib>

#include "kernels/cuda/nccl_id_exchange.h"

namespace ringlab::gpu {

namespace detail {

Status ShareNcclUniqueId(const Launch& launch, ncclUniqueId* id, std::string* abort_file) {
  static_assert(sizeof(*id) == kNcclIdBytes);
  const bool root = launch.rank_offset == 0;
  if (root) {
    const ncclResult_t res = ncclGetUniqueId(id);
    if (res != ncclSuccess) return Status::Unavailable(std::string("ncclGetUniqueId: ") + ncclGetErrorString(res));
  }
  if (!launch.MultiProcess()) return Status::Ok();
  if (!launch.nccl_id_file.empty()) {
    RINGLAB_RETURN_IF_ERROR(ExchangeIdFile(root, launch.nccl_id_file, id->internal, launch.timeout_s));
    *abort_file = launch.nccl_id_file + ".abort";
    return Status::Ok();
  }
  if (!launch.master_addr.empty())
    return ExchangeIdTcp(root, launch.master_addr, launch.master_port, launch.world, id->internal, launch.timeout_s);
  return Status::InvalidArgument(
      "a multi-process run needs --nccl-id-file FILE or MASTER_ADDR and MASTER_PORT to exchange the NCCL id");
}

}  // namespace detail

Status LaunchFromEnvironment(Launch* launch, bool* found) {
  struct Names {
    const char *rank, *size, *local;
  };
  const Names sets[] = {{"RANK", "WORLD_SIZE", "LOCAL_RANK"},
                        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
                        {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"}};
  *found = false;
  for (const Names& n : sets) {
    const char *r = std::getenv(n.rank), *s = std::getenv(n.size);
    if (!r || !s) continue;
    const char* l = std::getenv(n.local);
    char* end = nullptr;
    const long rank = std::strtol(r, &end, 10);
    const bool rank_ok = *r && !*end;
    const long size = std::strtol(s, &end, 10);
    const bool size_ok = *s && !*end;
    long local = rank;
    bool local_ok = true;
    if (l) {
      local = std::strtol(l, &end, 10);
      local_ok = *l && !*end;
    }
    if (!rank_ok || !size_ok || !local_ok || size < 1 || rank < 0 || rank >= size || local < 0)
      return Status::InvalidArgument(std::string("bad launcher environment: ") + n.rank + "=" + r + " " + n.size + "=" +
                                     s + (l ? std::string(" ") + n.local + "=" + l : std::string()));
    *found = true;
    launch->world = int(size);
    launch->rank_offset = int(rank);
    launch->devices = {int(local)};
    if (const char* a = std::getenv("MASTER_ADDR")) launch->master_addr = a;
    if (const char* p = std::getenv("MASTER_PORT")) launch->master_port = std::atoi(p) + 1;  // torchrun's store holds MASTER_PORT
    if (const char* p = std::getenv("RINGLAB_NCCL_PORT")) launch->master_port = std::atoi(p);
    return Status::Ok();
  }
  return Status::Ok();
}

int VisibleGpuCount(std::string* error) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (error) *error = cudaGetErrorString(e);
    return 0;
  }
  return n;
}

}  // namespace ringlab::gpu
