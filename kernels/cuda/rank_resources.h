// The GPU executor's per-rank resources (internal to kernels/cuda): the device, the compute and comm streams, the
// events that bracket iterations and ops, the NCCL communicator and the schedule's buffers, plus what the watchdog
// reads of a rank (the blocking call it is in, since when). gpu_executor.h describes the executor.
#pragma once

#include <cuda_runtime.h>
#include <nccl.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ringlab::gpu::detail {

// Monotonic clock in nanoseconds (the watchdog's time base).
int64_t NowNs();

struct Buffer {
  void* ptr = nullptr;
  int64_t bytes = 0;
};

struct Rank {
  int rank = 0, device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t compute = nullptr, comm_stream = nullptr;
  cudaEvent_t iter_start = nullptr, iter_end = nullptr, join = nullptr, init = nullptr;
  float* scratch = nullptr;  // floats for the barrier all-reduce [0] and the warm-up count agreement [1]
  std::map<std::pair<int, int>, Buffer> buffers;
  std::vector<cudaEvent_t> ev_start[2], ev_end[2];  // per pass, per op
  std::atomic<int64_t> busy_since_ns{0};
  std::atomic<const char*> busy_what{""};
  std::atomic<bool> comm_aborted{false};  // ncclCommAbort called (by the watchdog or after the join)
  bool owns_resources = false;
};

// Marks a rank as inside a call that can block (the watchdog times it out).
class Busy {
 public:
  Busy(Rank& r, const char* what) : r_(r) {
    r_.busy_what = what;
    r_.busy_since_ns = NowNs();
  }
  ~Busy() { r_.busy_since_ns = 0; }

 private:
  Rank& r_;
};

// Selects r.device and creates the streams, the iteration events and the scratch floats.
Status CreateRankResources(Rank& r);
// Releases what CreateRankResources made (not the communicator or the schedule buffers).
void DestroyRankResources(Rank& r);

}  // namespace ringlab::gpu::detail
