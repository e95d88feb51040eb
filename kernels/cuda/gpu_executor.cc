// GpuExecutor: the ranks of this process, their threads and the watchdog; Create, Run and RunSingle. What one rank
// does is in rank_runner.h, the launch environment in launch_environment.h, fault handling in watchdog.h.
#include "kernels/cuda/gpu_executor.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <thread>

#include "core/metrics.h"
#include "kernels/cuda/gpu_helpers.h"
#include "kernels/cuda/launch_environment.h"
#include "kernels/cuda/rank_resources.h"
#include "kernels/cuda/rank_runner.h"
#include "kernels/cuda/watchdog.h"

namespace ringlab::gpu {
namespace {

using detail::AbortState;
using detail::Busy;
using detail::CreateRankResources;
using detail::DestroyRankResources;
using detail::Job;
using detail::Rank;
using detail::RankRunner;

constexpr int64_t kReserveBytes = int64_t(512) << 20;  // NCCL buffers and workspace beyond the schedule's buffers

std::string Gib(int64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / double(int64_t(1) << 30));
  return b;
}

int64_t UnionBufferBytes(const ScheduleConfig& config, bool backward, int rank) {
  std::map<std::pair<int, int>, int64_t> want;
  for (int pass = 0; pass < (backward ? 2 : 1); ++pass) {
    ScheduleConfig c = config;
    c.pass = pass == 0 ? Pass::kForward : Pass::kBackward;
    for (const BufferInfo& b : BuildRankSchedule(c, rank).buffers) {
      int64_t& w = want[{int(b.ref.kind), int(b.ref.slot)}];
      w = std::max(w, b.bytes);
    }
  }
  int64_t total = 0;
  for (const auto& [k, v] : want) total += v;
  return total;
}

}  // namespace

struct GpuExecutor::Impl {
  Launch launch;
  AbortState shared;
  std::vector<std::unique_ptr<Rank>> ranks;
  std::atomic<int> active{0};
  detail::Watchdog watchdog{ranks, shared, active, launch.timeout_s};
  bool broken = false;

  explicit Impl(const Launch& l) : launch(l) {}

  ~Impl() {
    watchdog.Stop();
    if (broken) return;  // after a failure nothing on the devices is trusted: leave it to process exit
    for (auto& r : ranks) {
      if (r->comm) {
        cudaSetDevice(r->device);
        ncclCommDestroy(r->comm);
      }
      DestroyRankResources(*r);
    }
  }

  // Runs fn on a thread per rank (each on its device) and joins. On failure every communicator is aborted.
  template <typename Fn>
  Status OnRanks(std::vector<Rank*> rs, Fn fn) {
    std::vector<Status> results(rs.size());
    std::vector<std::thread> threads;
    active += int(rs.size());
    for (size_t i = 0; i < rs.size(); ++i)
      threads.emplace_back([&, i] {
        const cudaError_t e = cudaSetDevice(rs[i]->device);
        results[i] = e == cudaSuccess ? fn(*rs[i])
                                      : Status::Internal("cudaSetDevice(" + std::to_string(rs[i]->device) +
                                                         "): " + cudaGetErrorString(e));
        if (!results[i].ok() && !shared.aborted) shared.Fail(results[i].message());
        --active;
      });
    for (auto& t : threads) t.join();
    if (!shared.aborted) return Status::Ok();
    broken = true;
    for (auto& r : ranks)
      if (r->comm) {
        if (!r->comm_aborted.exchange(true)) {
          cudaSetDevice(r->device);
          ncclCommAbort(r->comm);
        }
        r->comm = nullptr;
      }
    return Status::Internal(shared.Message());
  }
};

GpuExecutor::GpuExecutor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GpuExecutor::~GpuExecutor() = default;
int GpuExecutor::world() const { return impl_->launch.world; }
bool GpuExecutor::IsRoot() const { return impl_->launch.rank_offset == 0; }

Status GpuExecutor::Create(const Launch& launch, std::unique_ptr<GpuExecutor>* out) {
  if (launch.world < 1) return Status::InvalidArgument("world size must be >= 1");
  if (launch.devices.empty()) return Status::InvalidArgument("no GPU assigned to this process");
  if (launch.rank_offset + int(launch.devices.size()) > launch.world)
    return Status::InvalidArgument("rank " + std::to_string(launch.rank_offset) + " is outside world size " +
                                   std::to_string(launch.world));
  int count = 0;
  const cudaError_t ce = cudaGetDeviceCount(&count);
  if (ce != cudaSuccess) count = 0;
  const int need = *std::max_element(launch.devices.begin(), launch.devices.end()) + 1;
  if (count < need)
    return Status::Unavailable("needs " + std::to_string(need) + " GPU" + (need > 1 ? "s" : "") + " but " +
                               std::to_string(count) + " " + (count == 1 ? "is" : "are") + " visible" +
                               (ce != cudaSuccess ? std::string(" (") + cudaGetErrorString(ce) + ")" : ""));
  auto impl = std::make_unique<Impl>(launch);
  impl->shared.timeout_s = launch.timeout_s;
  for (size_t i = 0; i < launch.devices.size(); ++i) {
    auto r = std::make_unique<Rank>();
    r->rank = launch.rank_offset + int(i);
    r->device = launch.devices[i];
    RINGLAB_RETURN_IF_ERROR(CreateRankResources(*r));
    impl->ranks.push_back(std::move(r));
  }
  impl->watchdog.Start();
  if (launch.world > 1) {
    ncclUniqueId id;
    RINGLAB_RETURN_IF_ERROR(detail::ShareNcclUniqueId(launch, &id, &impl->shared.abort_file));
    std::vector<Rank*> rs;
    for (auto& r : impl->ranks) rs.push_back(r.get());
    const int world = launch.world;
    RINGLAB_RETURN_IF_ERROR(impl->OnRanks(rs, [&](Rank& r) -> Status {
      Busy busy(r, "creating the NCCL communicator");
      const ncclResult_t res = ncclCommInitRank(&r.comm, world, id, r.rank);
      if (res != ncclSuccess) {
        r.comm = nullptr;
        return Status::Internal("rank " + std::to_string(r.rank) + ": ncclCommInitRank: " + ncclGetErrorString(res));
      }
      return Status::Ok();
    }));
  }
  out->reset(new GpuExecutor(std::move(impl)));
  return Status::Ok();
}

namespace {

Status CheckRequest(const RunRequest& req, int world, const InputSource& in) {
  const Problem& p = req.config.problem;
  if (req.config.world != world)
    return Status::InvalidArgument("the schedule is for " + std::to_string(req.config.world) + " ranks but the job has " +
                                   std::to_string(world));
  if (p.dtype != DType::kBFloat16 && p.dtype != DType::kFloat16)
    return Status::InvalidArgument("--dtype '" + std::string(DTypeName(p.dtype)) +
                                   "': the GPU executor runs bf16 or fp16 (the CPU executor runs fp32 and fp64)");
  if (p.head_dim != 64 && p.head_dim != 128 && p.head_dim != 256)
    return Status::InvalidArgument("--dim " + std::to_string(p.head_dim) +
                                   ": the CUDA kernels support 64, 128 or 256 (256 on H100/H200 only)");
  if (req.warmup < 0 || req.iters < 1) return Status::InvalidArgument("--iters must be >= 1 and --warmup >= 0");
  if (in.FromHost()) {
    const size_t q = size_t(p.batch) * p.heads * p.seq * p.head_dim, kv = size_t(p.batch) * p.kv_heads * p.seq * p.head_dim;
    if (in.q.size() != q || in.k.size() != kv || in.v.size() != kv || in.dout.size() != q)
      return Status::InvalidArgument("input tensors do not match the problem's shapes");
  }
  return ValidateConfig(req.config);
}

Status CheckMemory(const ScheduleConfig& cfg, bool backward, const std::vector<std::unique_ptr<Rank>>& ranks,
                   int device_override = -1) {
  for (auto& r : ranks) {
    const int dev = device_override >= 0 ? device_override : r->device;
    cudaSetDevice(dev);
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) continue;
    ScheduleConfig c = cfg;
    int64_t buffers = 0;
    c.world = cfg.world;
    const int rank = device_override >= 0 ? 0 : r->rank;
    buffers = UnionBufferBytes(c, backward, rank);
    const int64_t est = buffers + kReserveBytes;
    if (est > int64_t(free_b))
      return Status::InvalidArgument(
          "the problem needs an estimated " + Gib(est) + " per GPU (" + Gib(buffers) +
          " of schedule buffers + " + Gib(kReserveBytes) + " for NCCL and workspace) but GPU " + std::to_string(dev) +
          " has " + Gib(int64_t(free_b)) + " free; use more GPUs or a smaller --seq/--batch/--heads");
    if (device_override >= 0) break;
  }
  return Status::Ok();
}

}  // namespace

Status GpuExecutor::Run(const RunRequest& request, const InputSource& inputs, RunResult* result) {
  Impl& im = *impl_;
  if (im.broken) return Status::Internal("the GPU executor is unusable after an earlier failure");
  RINGLAB_RETURN_IF_ERROR(CheckRequest(request, im.launch.world, inputs));
  Schedule fwd, bwd;
  ScheduleConfig c = request.config;
  c.pass = Pass::kForward;
  RINGLAB_RETURN_IF_ERROR(BuildSchedule(c, &fwd));
  if (request.backward) {
    c.pass = Pass::kBackward;
    RINGLAB_RETURN_IF_ERROR(BuildSchedule(c, &bwd));
  }
  RINGLAB_RETURN_IF_ERROR(CheckMemory(request.config, request.backward, im.ranks));
  Job job{.world = im.launch.world, .request = &request, .inputs = &inputs, .fwd = &fwd,
          .bwd = request.backward ? &bwd : nullptr, .fault = detail::FaultFromEnv()};
  std::vector<Rank*> rs;
  for (auto& r : im.ranks) rs.push_back(r.get());
  return im.OnRanks(rs, [&](Rank& r) { return RankRunner(r, job, im.shared).Main(result); });
}

Status GpuExecutor::RunSingle(const RunRequest& request, const InputSource& inputs, RunResult* result) {
  Impl& im = *impl_;
  if (im.broken) return Status::Internal("the GPU executor is unusable after an earlier failure");
  RunRequest req = request;
  req.config.world = 1;
  req.config.ulysses = 1;  // one GPU: no Ulysses or ring dimension
  req.config.ring = 0;
  RINGLAB_RETURN_IF_ERROR(CheckRequest(req, 1, inputs));
  Schedule fwd, bwd;
  ScheduleConfig c = req.config;
  c.pass = Pass::kForward;
  RINGLAB_RETURN_IF_ERROR(BuildSchedule(c, &fwd));
  if (req.backward) {
    c.pass = Pass::kBackward;
    RINGLAB_RETURN_IF_ERROR(BuildSchedule(c, &bwd));
  }
  RINGLAB_RETURN_IF_ERROR(CheckMemory(req.config, req.backward, im.ranks, im.ranks[0]->device));
  Rank single;
  single.rank = 0;
  single.device = im.ranks[0]->device;
  RINGLAB_RETURN_IF_ERROR(CreateRankResources(single));
  Job job{.world = 1, .request = &req, .inputs = &inputs, .fwd = &fwd, .bwd = req.backward ? &bwd : nullptr};
  Status st = im.OnRanks({&single}, [&](Rank& r) { return RankRunner(r, job, im.shared).Main(result); });
  if (st.ok()) DestroyRankResources(single);
  return st;
}

int64_t EstimateRankBytes(const ScheduleConfig& config, bool backward, int64_t* buffer_bytes) {
  int64_t worst = 0;
  for (int r = 0; r < config.world; ++r) worst = std::max(worst, UnionBufferBytes(config, backward, r));
  if (buffer_bytes) *buffer_bytes = worst;
  return worst + kReserveBytes;
}

double RelativeError(const std::vector<float>& x, const std::vector<float>& ref) {
  std::vector<double> r(ref.begin(), ref.end());
  return RelativeError(x, r);
}

double RelativeError(const std::vector<float>& x, const std::vector<double>& ref) {
  if (x.size() != ref.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(ref[i])) {
      if (x[i] != ref[i]) return INFINITY;
      continue;
    }
    if (!std::isfinite(x[i])) return INFINITY;
    const double d = double(x[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

InputSource HostRandomInputs(const Problem& p, uint64_t seed) {
  const cuda::ElementType e = p.dtype == DType::kFloat16 ? cuda::ElementType::kFloat16 : cuda::ElementType::kBFloat16;
  InputSource in;
  in.seed = seed;
  auto fill = [&](int tensor, int heads) {
    std::vector<float> v(size_t(p.batch) * heads * p.seq * p.head_dim);
    size_t i = 0;
    for (int64_t row = 0; row < int64_t(p.batch) * heads; ++row)
      for (int64_t t = 0; t < p.seq; ++t)
        for (int d = 0; d < p.head_dim; ++d) v[i++] = RoundTo(e, RandomValue(seed, tensor, row, t, d, p.seq, p.head_dim));
    return v;
  };
  in.q = fill(0, p.heads);
  in.k = fill(1, p.kv_heads);
  in.v = fill(2, p.kv_heads);
  in.dout = fill(3, p.heads);
  return in;
}

}  // namespace ringlab::gpu
