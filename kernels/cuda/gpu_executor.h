// GPU executor: runs the shared Schedule for real, one rank per GPU, with NCCL and two CUDA streams per rank.
//
// Per rank: a device, a compute stream and a comm stream, an NCCL communicator. A pass issues the rank's ops in list
// order, each on its own stream; a dependency on an op of the other stream is a cudaStreamWaitEvent on that op's end
// event; consecutive comm ops of one `group` are posted inside one ncclGroupStart/End. K/V are sent straight from the
// buffers the schedule names (the KV shard is K then V, one message); the all-gather lands origin-major; dK/dV return
// to their owners by the ring or by a reduce-scatter. Buffers follow the CPU executor (kernels/cpu/cpu_executor.h):
// [B][H][s][D] element-type Q, K/V, dOut; float32 out, lse, dQ, dK/dV accumulators.
//
// Start order: the GPU starts a rank's ops in the order the schedule lists them wherever that costs nothing. A kernel
// waits on the start event of each transfer listed just before it whose start needs nothing the kernel does not wait
// for anyway (core/start_order.h), so NCCL's kernel is released a few microseconds first and has its SMs. Without it
// the kernel won every tie: at a pass start the host decided (a rank whose thread had queued the kernel before the
// barrier ran it first and its transfer waited for the last round), and mid-pass a kernel released in stream order
// beat a transfer waiting on a cross-stream event and starved it (a 16 MiB ring step beside a 128-CTA block: 210-260
// us instead of 137). RunRequest::listed_start_order = false turns it off, for comparison.
//
// Timelines: every op is bracketed by two CUDA events; all ranks record a common start event right after a device-side
// barrier (a one-float all-reduce), so elapsed times from it form one clock across ranks. The last iteration of each
// pass becomes a Trace (source "real", the schedule's op ids) gathered to the root process.
//
// Launch: one process may drive several local GPUs (a thread each) or one rank of a multi-process job; the NCCL
// unique id travels through a shared file or a small TCP exchange on MASTER_ADDR:MASTER_PORT+1.
// Faults: every CUDA and NCCL call is checked; a failing rank sets a process-wide abort flag (and, in file mode, an
// abort file its peers poll), every wait polls the flag, NCCL's async error and a deadline, communicators are aborted
// with ncclCommAbort, and a watchdog ends the process with a clear message if a rank stays stuck past the grace time.
//
//   Launch launch;  launch.world = 4;  launch.devices = {0, 1, 2, 3};
//   std::unique_ptr<GpuExecutor> ex;
//   Status s = GpuExecutor::Create(launch, &ex);
//   RunRequest req{.config = cfg, .backward = true};
//   RunResult res;
//   s = ex->Run(req, InputSource{.seed = 1}, &res);   // res.fwd_ms, res.fwdbwd_ms, res.fwd_trace ...
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"
#include "core/trace.h"

namespace ringlab::gpu {

struct Launch {
  int world = 1;               // total ranks of the job
  int rank_offset = 0;         // global rank of this process's first local rank
  std::vector<int> devices;    // CUDA device of each local rank (rank_offset + i)
  std::string nccl_id_file;    // multi-process: NCCL id exchange through this file (rank 0 writes it)
  std::string master_addr;     // multi-process: or through TCP: rank 0 listens on master_port
  int master_port = 0;
  double timeout_s = 300;      // a wait with no progress for this long aborts the run
  bool MultiProcess() const { return int(devices.size()) < world; }
};

// Fills `launch` from RANK/WORLD_SIZE/LOCAL_RANK (torchrun), OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK (mpirun) or
// SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID (srun); MASTER_ADDR/MASTER_PORT too. *found = false when none is set.
Status LaunchFromEnvironment(Launch* launch, bool* found);

// Inputs: seeded random on the GPU (RandomValue in gpu_helpers.h), or the user's global tensors in float32 (already
// rounded to the problem's element type): q, dout [B][H][S][D]; k, v [B][Hkv][S][D].
struct InputSource {
  uint64_t seed = 1;
  std::vector<float> q, k, v, dout;  // empty: seeded random
  bool FromHost() const { return !q.empty(); }
};

struct RunRequest {
  ScheduleConfig config;       // the pass is ignored: the forward always runs
  bool backward = false;       // also time forward + backward
  int warmup = 3, iters = 10;
  // Warm up for at least this much GPU time as well (0: the count alone). The ranks agree on one count (the passes
  // hold collectives): each estimates it from its own warm-up iterations and the largest wins. Without it, short
  // iterations are timed while clocks and caches still settle (seen as 5-10% slower forward medians at S = 16K).
  double warmup_ms = 0;
  bool collect_outputs = false;  // copy unsharded out, lse (and dq, dk, dv) to the root process
  bool poison = false;           // fill uninitialised buffers with NaN before every pass (checks every write)
  bool listed_start_order = true;  // kernels let the transfers listed before them start first (see the top)
};

// Unsharded float32 results on the root: out [B][H][S][D], lse [B][H][S], dq like q, dk and dv like k.
struct Outputs {
  std::vector<float> out, lse, dq, dk, dv;
};

struct RunResult {
  // Medians over the timed iterations, per rank, then the slowest rank (as torch_cp_bench.py measures).
  double fwd_ms = 0, fwdbwd_ms = 0;
  std::vector<double> rank_fwd_ms, rank_fwdbwd_ms;
  // Timelines of the timed iterations, every rank (root process only): the forward from the forward-only iterations,
  // the backward from the forward+backward ones. *_trace is the iteration whose slowest rank is the median one (the
  // one the reported time comes from, or nearest to it); *_iterations holds all of them, in order.
  Trace fwd_trace, bwd_trace;
  std::vector<Trace> fwd_iterations, bwd_iterations;
  int fwd_traced = -1, bwd_traced = -1;  // index of *_trace in *_iterations
  std::vector<double> fwd_iteration_ms, fwdbwd_iteration_ms;  // per timed iteration, the slowest rank's time
  int warmup_done[2] = {0, 0};           // warm-up iterations run (forward, forward+backward), after warmup_ms
  std::vector<int64_t> buffer_bytes;    // per rank: bytes of the schedule's buffers this run allocated
  std::vector<int64_t> device_used_bytes;  // per rank: device memory in use after the run (context, NCCL included)
  std::string gpu_name;
  Outputs outputs;                      // with collect_outputs, root only
};

class GpuExecutor {
 public:
  // Selects the devices, creates streams and the NCCL communicators (exchanging the id across processes).
  static Status Create(const Launch& launch, std::unique_ptr<GpuExecutor>* out);
  ~GpuExecutor();
  GpuExecutor(const GpuExecutor&) = delete;
  GpuExecutor& operator=(const GpuExecutor&) = delete;

  int world() const;
  bool IsRoot() const;  // this process drives rank 0

  // Runs warmup + iters forward iterations (then, with backward, warmup + iters forward+backward iterations).
  // Errors: bad config, estimated memory over the free memory (the message says the estimate), CUDA/NCCL failures,
  // a peer that failed or stopped (timeout). After a CUDA/NCCL failure the executor is unusable.
  Status Run(const RunRequest& request, const InputSource& inputs, RunResult* result);

  // Runs the W=1 schedule of `config` on this process's first GPU (no communication): the single-GPU baseline that
  // --verify compares against and the T(1 GPU) of the scaling efficiency. Root process only.
  Status RunSingle(const RunRequest& request, const InputSource& inputs, RunResult* result);

  struct Impl;

 private:
  explicit GpuExecutor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Estimated device bytes one rank needs for `config` (forward, and backward when asked): the union of the passes'
// buffer tables (core/metrics.h RankMemoryBytes) plus a reserve for the CUDA context and NCCL.
int64_t EstimateRankBytes(const ScheduleConfig& config, bool backward, int64_t* buffer_bytes = nullptr);

// Relative error ||x - ref||_2 / ||ref||_2 over entries where ref is finite (a NaN or inf in x counts as infinite).
double RelativeError(const std::vector<float>& x, const std::vector<float>& ref);
double RelativeError(const std::vector<float>& x, const std::vector<double>& ref);

}  // namespace ringlab::gpu

namespace ringlab::gpu {
// The seeded inputs the GPU generates, materialised on the host (rounded to the problem's element type): what
// --out writes as inputs and what the CPU float64 reference reads.
InputSource HostRandomInputs(const Problem& p, uint64_t seed);
}  // namespace ringlab::gpu

namespace ringlab::gpu {
// Number of CUDA devices this process sees (0 when none or no driver; *error says why).
int VisibleGpuCount(std::string* error);
}  // namespace ringlab::gpu
