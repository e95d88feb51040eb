// NCCL transfers between local GPUs from one process (one communicator per GPU, ncclCommInitAll), alone and beside
// our forward attention kernel, timed with CUDA events on each GPU's streams.
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "calibrate/microbench/checks.h"
#include "calibrate/microbench/microbench.h"
#include "calibrate/microbench/timing.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/gpu_helpers.h"

namespace ringlab::calibrate {
namespace {

// The attention kernel that runs beside the traffic: a full 8192 x 8192 block of 32 heads, D = 128, merge mode
// (about 1.5-3 ms on an H100: longer than the transfers it overlaps).
constexpr int kBesideHeads = 32, kBesideDim = 128;
constexpr int64_t kBesideTokens = 8192;
// GPU-side hold while the host posts: every GPU waits for one host flag (gpu::LaunchWaitHostFlag), released after the
// whole group is posted, so the GPUs start together. (A 1 ms sleep per GPU ended as far apart as the host took to
// launch them, ~20-30 us on 4 GPUs, which the slowest rank's time counted: 47 us for a 1 MiB ring step that a run, its
// ranks aligned by a barrier, moves in ~35 us.) The timeout only guards against a host that never releases.
constexpr double kGateTimeoutUs = 2e6;
constexpr double kNcclFirstUs = 5;  // a kernel released with the transfer waits this long, so NCCL's kernel goes first

// kAllToAll: the Ulysses exchange among all n GPUs, `bytes` to every other one (one grouped send/recv each).
enum class Pattern { kPair, kRing, kAllGather, kAllToAll };
// kProbe: NCCL alone, and an SM occupancy probe (gpu::LaunchSmProbe) released on rank 0 kProbeDelayUs after the
// transfer: how many SMs NCCL's kernel occupies while it runs (what a kernel launched beside it finds taken).
// kCommFirstBackward: as kCommFirst with a backward kernel of the same block beside the transfer.
enum class Mode { kAlone, kCommFirst, kKernelFirst, kProbe, kCommFirstBackward };
constexpr double kProbeDelayUs = 10, kProbeSpinUs = 50, kProbeLateUs = 5;

struct Rank {
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t comm_st = nullptr, comp_st = nullptr;
  cudaEvent_t c0 = nullptr, c1 = nullptr, a0 = nullptr, a1 = nullptr;
  DeviceBuffer send, recv, gather, q, kv, out, lse, probe, delta, dq, dkv;
  cuda::ForwardParams attention;
  cuda::BackwardParams backward;  // the same block's backward (dO = Q's values; only its timing matters)
};

class CommBench {
 public:
  ~CommBench() {
    if (gate_flag_) cudaFreeHost(const_cast<int*>(gate_flag_));
    for (auto& rp : ranks_) {
      Rank& r = *rp;
      cudaSetDevice(r.device);
      if (r.comm) ncclCommDestroy(r.comm);
      for (cudaEvent_t e : {r.c0, r.c1, r.a0, r.a1})
        if (e) cudaEventDestroy(e);
      if (r.comm_st) cudaStreamDestroy(r.comm_st);
      if (r.comp_st) cudaStreamDestroy(r.comp_st);
    }
  }

  Status Init(const std::vector<int>& devices, int64_t max_bytes) {
    void* flag = nullptr;
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaHostAlloc(&flag, sizeof(int), cudaHostAllocMapped | cudaHostAllocPortable));
    gate_flag_ = static_cast<volatile int*>(flag);
    *gate_flag_ = 0;
    for (size_t i = 0; i < devices.size(); ++i) ranks_.push_back(std::make_unique<Rank>());
    std::vector<ncclComm_t> comms(devices.size());
    RINGLAB_NCCL_RETURN_IF_ERROR(ncclCommInitAll(comms.data(), int(devices.size()), devices.data()));
    for (size_t i = 0; i < devices.size(); ++i) {
      Rank& r = *ranks_[i];
      r.device = devices[i];
      r.comm = comms[i];
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(r.device));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&r.comm_st, cudaStreamNonBlocking));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&r.comp_st, cudaStreamNonBlocking));
      for (cudaEvent_t* e : {&r.c0, &r.c1, &r.a0, &r.a1})
        RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventCreate(e));
      RINGLAB_RETURN_IF_ERROR(r.send.Allocate(max_bytes));
      RINGLAB_RETURN_IF_ERROR(r.recv.Allocate(max_bytes));
      RINGLAB_RETURN_IF_ERROR(r.gather.Allocate(max_bytes * devices.size()));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, r.device));
      RINGLAB_RETURN_IF_ERROR(r.probe.Allocate(int64_t(sms_) * 8));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(r.send.get(), 0, max_bytes, r.comm_st));
      // The beside kernel's operands: q and K/V (K then V), float32 out and lse.
      const int64_t e = int64_t(kBesideHeads) * kBesideTokens * kBesideDim;
      RINGLAB_RETURN_IF_ERROR(r.q.Allocate(e * 2));
      RINGLAB_RETURN_IF_ERROR(r.kv.Allocate(2 * e * 2));
      RINGLAB_RETURN_IF_ERROR(r.out.Allocate(e * 4));
      RINGLAB_RETURN_IF_ERROR(r.lse.Allocate(int64_t(kBesideHeads) * kBesideTokens * 4));
      gpu::ShardMap m;
      m.shard_tokens = m.chunk_tokens = m.seq = kBesideTokens;
      RINGLAB_RETURN_IF_ERROR(
          gpu::LaunchRandomFill(cuda::ElementType::kBFloat16, r.q.get(), kBesideHeads, kBesideDim, m, 1, 0, r.comp_st));
      RINGLAB_RETURN_IF_ERROR(gpu::LaunchRandomFill(cuda::ElementType::kBFloat16, r.kv.get(),
                                                                 2 * kBesideHeads, kBesideDim, m, 1, 1, r.comp_st));
      cuda::ForwardParams& p = r.attention;
      p.shape.heads = p.shape.kv_heads = kBesideHeads;
      p.shape.q_tokens = p.shape.kv_tokens = kBesideTokens;
      p.shape.head_dim = kBesideDim;
      p.q = r.q.get();
      p.k = r.kv.get();
      p.v = static_cast<const char*>(r.kv.get()) + e * 2;
      p.q_strides = p.k_strides = p.v_strides = p.out_strides = {e, kBesideTokens * kBesideDim};
      p.out_acc = r.out.get<float>();
      p.lse_acc = r.lse.get<float>();
      p.lse_strides = {int64_t(kBesideHeads) * kBesideTokens, kBesideTokens};
      p.mode = cuda::AccumulateMode::kOverwrite;
      RINGLAB_RETURN_IF_ERROR(cuda::LaunchForward(p, r.comp_st));  // initialise out/lse, then merge from here on
      p.mode = cuda::AccumulateMode::kMerge;
      RINGLAB_RETURN_IF_ERROR(r.delta.Allocate(int64_t(kBesideHeads) * kBesideTokens * 4));
      RINGLAB_RETURN_IF_ERROR(r.dq.Allocate(e * 4));
      RINGLAB_RETURN_IF_ERROR(r.dkv.Allocate(2 * e * 4));
      RINGLAB_CUDA_RETURN_IF_ERROR(
          cudaMemsetAsync(r.delta.get(), 0, int64_t(kBesideHeads) * kBesideTokens * 4, r.comp_st));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(r.dq.get(), 0, e * 4, r.comp_st));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(r.dkv.get(), 0, 2 * e * 4, r.comp_st));
      cuda::BackwardParams& b = r.backward;
      b.shape = p.shape;
      b.q = p.q;
      b.k = p.k;
      b.v = p.v;
      b.dout = p.q;
      b.lse = r.lse.get<float>();
      b.delta = r.delta.get<float>();
      b.q_strides = b.k_strides = b.v_strides = b.dout_strides = p.q_strides;
      b.lse_strides = b.delta_strides = p.lse_strides;
      b.dq = r.dq.get<float>();
      b.dk = r.dkv.get<float>();
      b.dv = r.dkv.get<float>() + e;
      b.dq_strides = b.dk_strides = b.dv_strides = p.q_strides;
    }
    return SyncAll();
  }

  int size() const { return int(ranks_.size()); }

  Status SyncAll() {
    for (auto& r : ranks_) {
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(r->device));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
    }
    return Status::Ok();
  }

  // The beside kernel alone on rank 0 (the reference of the overlap pairs).
  Status AttentionAlone(const BenchOptions& o, double* us) {
    Rank& r = *ranks_[0];
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(r.device));
    EventTimer t;
    RINGLAB_RETURN_IF_ERROR(t.Init());
    std::vector<double> v;
    RINGLAB_RETURN_IF_ERROR(t.Time(
        r.comp_st, o.warmup, o.reps, [&] { return cuda::LaunchForward(r.attention, r.comp_st); }, &v));
    *us = MedianOf(v);
    return Status::Ok();
  }

  struct Result {
    double transfer_us = 0;    // slowest rank: comm-stream start event (the post) to end event
    double attention_us = 0;   // slowest rank's beside kernel (modes with a kernel)
    double kernel_left_us = 0; // kernel first: the least time the running kernel had left at a post
    int held_sms = -1;         // probe: CTAs of the probe that started kProbeLateUs or more after the first
    std::vector<double> probe_starts_us;  // probe: every CTA's start after the first, sorted
  };

  // One measurement: `ranks` take part (the first n of the communicator's ranks).
  Status Measure(Pattern pat, int n, int64_t bytes, Mode mode, Result* res) {
    RINGLAB_RETURN_IF_ERROR(SyncAll());
    auto launch_attention = [&]() -> Status {
      for (int i = 0; i < n; ++i) {
        Rank& r = *ranks_[i];
        RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(r.device));
        RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventRecord(r.a0, r.comp_st));
        if (mode == Mode::kCommFirstBackward)
          RINGLAB_RETURN_IF_ERROR(cuda::LaunchBackward(r.backward, r.comp_st));
        else
          RINGLAB_RETURN_IF_ERROR(cuda::LaunchForward(r.attention, r.comp_st));
        RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventRecord(r.a1, r.comp_st));
      }
      return Status::Ok();
    };
    if (mode == Mode::kKernelFirst) RINGLAB_RETURN_IF_ERROR(launch_attention());
    // Alone and comm-first: every GPU is held by a short sleep while this one host thread posts the group on all of
    // them in turn, so the timed region starts on the GPUs (as in a run, where each rank's thread posts its own). The
    // compute streams sleep too (posted after the comm streams', so NCCL still comes first).
    const bool gate = mode != Mode::kKernelFirst;
    const int release = ++gate_generation_;
    for (int i = 0; i < n; ++i) {
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(ranks_[i]->device));
      if (gate)
        RINGLAB_RETURN_IF_ERROR(gpu::LaunchWaitHostFlag(gate_flag_, release, kGateTimeoutUs, ranks_[i]->comm_st));
      if (gate && (mode == Mode::kCommFirst || mode == Mode::kCommFirstBackward)) {
        RINGLAB_RETURN_IF_ERROR(gpu::LaunchWaitHostFlag(gate_flag_, release, kGateTimeoutUs, ranks_[i]->comp_st));
        RINGLAB_RETURN_IF_ERROR(gpu::LaunchGpuSleep(kNcclFirstUs, ranks_[i]->comp_st));
      }
      if (mode == Mode::kProbe && i == 0) {
        RINGLAB_RETURN_IF_ERROR(gpu::LaunchWaitHostFlag(gate_flag_, release, kGateTimeoutUs, ranks_[i]->comp_st));
        RINGLAB_RETURN_IF_ERROR(gpu::LaunchGpuSleep(kProbeDelayUs, ranks_[i]->comp_st));
        RINGLAB_RETURN_IF_ERROR(
            gpu::LaunchSmProbe(ranks_[i]->probe.get<uint64_t>(), sms_, kProbeSpinUs, ranks_[i]->comp_st));
      }
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventRecord(ranks_[i]->c0, ranks_[i]->comm_st));
    }
    RINGLAB_NCCL_RETURN_IF_ERROR(ncclGroupStart());
    for (int i = 0; i < n; ++i) {
      Rank& r = *ranks_[i];
      if (pat == Pattern::kAllGather) {
        RINGLAB_NCCL_RETURN_IF_ERROR(
            ncclAllGather(r.send.get(), r.gather.get(), size_t(bytes), ncclChar, r.comm, r.comm_st));
      } else if (pat == Pattern::kAllToAll) {
        for (int j = 0; j < n; ++j) {  // slot k of the send and receive buffers: the k-th other member
          if (j == i) continue;
          const int64_t at = (j < i ? j : j - 1) * bytes;
          char* send = static_cast<char*>(r.send.get()) + at;
          char* recv = static_cast<char*>(r.recv.get()) + at;
          RINGLAB_NCCL_RETURN_IF_ERROR(ncclSend(send, size_t(bytes), ncclChar, j, r.comm, r.comm_st));
          RINGLAB_NCCL_RETURN_IF_ERROR(ncclRecv(recv, size_t(bytes), ncclChar, j, r.comm, r.comm_st));
        }
      } else {
        const int next = (i + 1) % n, prev = (i - 1 + n) % n;
        RINGLAB_NCCL_RETURN_IF_ERROR(ncclSend(r.send.get(), size_t(bytes), ncclChar, next, r.comm, r.comm_st));
        RINGLAB_NCCL_RETURN_IF_ERROR(ncclRecv(r.recv.get(), size_t(bytes), ncclChar, prev, r.comm, r.comm_st));
      }
    }
    RINGLAB_NCCL_RETURN_IF_ERROR(ncclGroupEnd());
    for (int i = 0; i < n; ++i) {
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(ranks_[i]->device));
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventRecord(ranks_[i]->c1, ranks_[i]->comm_st));
    }
    if (mode == Mode::kCommFirst || mode == Mode::kCommFirstBackward) RINGLAB_RETURN_IF_ERROR(launch_attention());
    if (gate) {  // everything is posted: release the GPUs together
      std::atomic_thread_fence(std::memory_order_seq_cst);
      *gate_flag_ = release;
    }
    RINGLAB_RETURN_IF_ERROR(SyncAll());
    *res = Result{};
    res->kernel_left_us = 1e300;
    if (mode == Mode::kProbe) {
      Rank& r = *ranks_[0];
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(r.device));
      std::vector<uint64_t> ns(sms_);
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaMemcpy(ns.data(), r.probe.get(), ns.size() * 8, cudaMemcpyDeviceToHost));
      std::sort(ns.begin(), ns.end());
      res->held_sms = 0;
      for (uint64_t t : ns) {
        res->probe_starts_us.push_back(double(t - ns[0]) * 1e-3);
        if (double(t - ns[0]) * 1e-3 >= kProbeLateUs) ++res->held_sms;
      }
    }
    for (int i = 0; i < n; ++i) {
      Rank& r = *ranks_[i];
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(r.device));
      float ms = 0;
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, r.c0, r.c1));
      res->transfer_us = std::max(res->transfer_us, 1e3 * ms);
      if (mode == Mode::kAlone || mode == Mode::kProbe) continue;
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, r.a0, r.a1));
      res->attention_us = std::max(res->attention_us, 1e3 * ms);
      if (mode == Mode::kKernelFirst) {
        RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, r.c0, r.a1));
        res->kernel_left_us = std::min(res->kernel_left_us, 1e3 * ms);
      }
    }
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<Rank>> ranks_;  // Rank holds device buffers: not movable
  int sms_ = 0;
  volatile int* gate_flag_ = nullptr;  // host memory every GPU reads (UVA: the same pointer on the device)
  int gate_generation_ = 0;
};

const char* Name(Pattern p) {
  return p == Pattern::kPair ? "p2p pair" : p == Pattern::kRing ? "p2p ring" : p == Pattern::kAllGather ? "all-gather"
                                                                                                       : "all-to-all";
}

// The all-to-all of the plan (CommPlan's alltoall cases): alone, its sample keyed by what each member sends in all.
Status BenchAllToAll(CommBench& bench, const std::vector<int64_t>& sizes, const BenchOptions& o, FitInputs* out) {
  const int n = bench.size();
  for (const CommCase& c : CommPlan(n, false)) {
    if (c.pattern != "alltoall" || std::find(sizes.begin(), sizes.end(), c.sample_bytes) == sizes.end()) continue;
    std::vector<double> alone;
    CommBench::Result r;
    for (int i = 0; i < o.warmup + o.reps; ++i) {
      RINGLAB_RETURN_IF_ERROR(bench.Measure(Pattern::kAllToAll, n, c.message_bytes, Mode::kAlone, &r));
      if (i >= o.warmup) alone.push_back(r.transfer_us);
    }
    out->transfers.push_back({"alltoall", n, c.sample_bytes, MedianOf(alone), false});
    if (o.progress) {
      char line[160];
      snprintf(line, sizeof line, "all-to-all W=%d %.1f MiB per member: alone %.1f us", n,
               c.sample_bytes / 1048576.0, MedianOf(alone));
      o.progress(line);
    }
  }
  return Status::Ok();
}

}  // namespace

Status BenchComm(const std::vector<int>& devices, const std::vector<int64_t>& sizes, const BenchOptions& o,
                 FitInputs* out) {
  if (devices.size() < 2) return Status::InvalidArgument("NCCL benchmarks need at least 2 GPUs");
  const int64_t max_bytes = *std::max_element(sizes.begin(), sizes.end());
  CommBench bench;
  RINGLAB_RETURN_IF_ERROR(bench.Init(devices, max_bytes));
  double alone_attention = 0;
  RINGLAB_RETURN_IF_ERROR(bench.AttentionAlone(o, &alone_attention));
  if (o.progress) o.progress("beside kernel alone (forward full 8192x8192, 32 heads, D=128): " +
                             std::to_string(alone_attention) + " us");
  const int n = bench.size();
  std::vector<Pattern> patterns = {Pattern::kPair};
  if (n > 2) patterns.push_back(Pattern::kRing);
  patterns.push_back(Pattern::kAllGather);
  for (Pattern pat : patterns) {
    const int ranks = pat == Pattern::kPair ? 2 : n;
    for (int64_t bytes : sizes) {
      // The sample's bytes: a message; for an all-gather what each rank receives (the schedule's op bytes).
      const int64_t sample_bytes = pat == Pattern::kAllGather ? bytes * (ranks - 1) : bytes;
      const std::string kind = pat == Pattern::kAllGather ? "all-gather" : "p2p";
      std::vector<double> alone, beside, beside_bwd, held, probe_starts;
      CommBench::Result r;
      for (int i = 0; i < o.warmup; ++i) RINGLAB_RETURN_IF_ERROR(bench.Measure(pat, ranks, bytes, Mode::kAlone, &r));
      for (int i = 0; i < o.reps; ++i) {
        RINGLAB_RETURN_IF_ERROR(bench.Measure(pat, ranks, bytes, Mode::kAlone, &r));
        alone.push_back(r.transfer_us);
        RINGLAB_RETURN_IF_ERROR(bench.Measure(pat, ranks, bytes, Mode::kCommFirst, &r));
        beside.push_back(r.transfer_us);
        out->overlap_us.emplace_back(alone_attention, r.attention_us);
        KernelCase beside{"forward", "full", kBesideDim, kBesideHeads, kBesideHeads, 1, kBesideTokens, kBesideTokens,
                               0, "beside traffic"};
        out->beside_kernels.push_back(
            {ToSample(beside, {r.attention_us}), std::min(1.0, r.transfer_us / std::max(r.attention_us, 1e-3))});
        RINGLAB_RETURN_IF_ERROR(bench.Measure(pat, ranks, bytes, Mode::kKernelFirst, &r));
        if (pat != Pattern::kAllGather && r.kernel_left_us > 0 && r.kernel_left_us < 1e299)
          out->start_waits.push_back({bytes, r.kernel_left_us, r.transfer_us,
                                      int64_t(kBesideHeads) * (kBesideTokens / 128)});  // forward grid: 128-row tiles
        RINGLAB_RETURN_IF_ERROR(bench.Measure(pat, ranks, bytes, Mode::kCommFirstBackward, &r));
        beside_bwd.push_back(r.transfer_us);
        RINGLAB_RETURN_IF_ERROR(bench.Measure(pat, ranks, bytes, Mode::kProbe, &r));
        held.push_back(r.held_sms);
        out->nccl_held.push_back({kind, ranks, sample_bytes, r.held_sms});
        if (i == 0) probe_starts = r.probe_starts_us;
      }
      out->transfers.push_back({kind, ranks, sample_bytes, MedianOf(alone), false});
      out->transfers.push_back({kind, ranks, sample_bytes, MedianOf(beside), true});
      out->transfers.push_back({kind, ranks, sample_bytes, MedianOf(beside_bwd), true, "backward"});
      if (o.progress) {
        char line[200];
        snprintf(line, sizeof line, "%s W=%d %.1f MiB: alone %.1f us, beside attention %.1f us (backward %.1f us), NCCL "
                 "occupies %.0f SMs (probe median; first probe's late CTAs start at", Name(pat), ranks,
                 bytes / 1048576.0, MedianOf(alone), MedianOf(beside), MedianOf(beside_bwd),
                 MedianOf(held));
        std::string msg = line;
        for (size_t k = 0; k < probe_starts.size(); ++k)
          if (probe_starts[k] >= kProbeLateUs) msg += " " + std::to_string(int(probe_starts[k]));
        o.progress(msg + " us)");
      }
    }
  }
  return BenchAllToAll(bench, sizes, o, out);
}

}  // namespace ringlab::calibrate
