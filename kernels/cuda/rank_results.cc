// RankRunner: every rank's timings, timelines and outputs to the root process, and the root's RunResult.
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "core/trace.h"
#include "kernels/cuda/rank_runner.h"

namespace ringlab::gpu::detail {

// Every rank contributes `bytes` from host memory; the root receives all of them, in rank order.
Status RankRunner::GatherToRoot(const void* host, int64_t bytes, std::vector<std::vector<char>>* out) {
  const bool root = r_.rank == 0;
  if (root) out->assign(job_.world, std::vector<char>(size_t(bytes)));
  if (root) std::memcpy((*out)[0].data(), host, size_t(bytes));
  if (job_.world == 1 || bytes == 0) return Status::Ok();
  void* dev = nullptr;
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaMalloc(&dev, size_t(bytes)), "cudaMalloc (gather)"));
  Status st = Status::Ok();
  if (!root) {
    // On the comm stream, so the ncclSend below reads `dev` only after the copy lands (see FillInputs).
    st = Cuda(cudaMemcpyAsync(dev, host, size_t(bytes), cudaMemcpyHostToDevice, r_.comm_stream), "cudaMemcpyAsync (gather)");
    if (st.ok()) {
      Busy busy(r_, "ncclSend (gather)");
      st = Nccl(ncclSend(dev, size_t(bytes), ncclInt8, 0, r_.comm, r_.comm_stream), "ncclSend (gather)");
    }
    if (st.ok()) st = Cuda(cudaEventRecord(r_.join, r_.comm_stream), "cudaEventRecord");
    if (st.ok()) st = WaitEvent(r_.join, "sending results to rank 0");
  } else {
    for (int o = 1; o < job_.world && st.ok(); ++o) {
      {
        Busy busy(r_, "ncclRecv (gather)");
        st = Nccl(ncclRecv(dev, size_t(bytes), ncclInt8, o, r_.comm, r_.comm_stream), "ncclRecv (gather)");
      }
      if (st.ok()) st = Cuda(cudaEventRecord(r_.join, r_.comm_stream), "cudaEventRecord");
      if (st.ok()) st = WaitEvent(r_.join, "receiving results on rank 0");
      if (st.ok()) st = Cuda(cudaMemcpy((*out)[o].data(), dev, size_t(bytes), cudaMemcpyDeviceToHost), "cudaMemcpy (gather)");
    }
  }
  cudaFree(dev);
  return st;
}

Status RankRunner::GatherBufferToRoot(BufferRef ref, int64_t offset_bytes, int64_t bytes,
                                      std::vector<std::vector<float>>* out) {
  std::vector<char> host(static_cast<size_t>(bytes));
  RINGLAB_RETURN_IF_ERROR(
      Cuda(cudaMemcpy(host.data(), Ptr(ref) + offset_bytes, size_t(bytes), cudaMemcpyDeviceToHost), "cudaMemcpy (outputs)"));
  std::vector<std::vector<char>> all;
  RINGLAB_RETURN_IF_ERROR(GatherToRoot(host.data(), bytes, &all));
  out->clear();
  for (auto& v : all) {
    std::vector<float> f(v.size() / 4);
    std::memcpy(f.data(), v.data(), f.size() * 4);
    out->push_back(std::move(f));
  }
  return Status::Ok();
}

// Per-rank stats, per-iteration times and per-op times, and (collect_outputs) the output buffers, to the root.
Status RankRunner::GatherResults(const Timings& timings, Gathered* g) {
  const RunRequest& req = *job_.request;
  size_t free_b = 0, total_b = 0;
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo"));
  int64_t buffer_bytes = 0;
  for (const auto& [k, b] : r_.buffers) buffer_bytes += b.bytes;
  const double mine[6] = {timings.median_ms[0], timings.median_ms[1], double(buffer_bytes), double(total_b - free_b),
                          double(timings.warmups[0]), double(timings.warmups[1])};
  RINGLAB_RETURN_IF_ERROR(GatherToRoot(mine, sizeof mine, &g->stats));
  const int iters = std::max(1, req.iters);
  for (int pass = 0; pass < (job_.bwd ? 2 : 1); ++pass) {
    // Per iteration: its time, then each op's start and end, padded to the longest rank's op count.
    const size_t stride = 1 + 2 * MaxOps(pass);
    std::vector<double> padded(iters * stride, NAN);
    for (size_t k = 0; k < times_[pass].size() && k < size_t(iters); ++k) {
      padded[k * stride] = k < timings.iter_ms[pass].size() ? timings.iter_ms[pass][k] : NAN;
      std::copy(times_[pass][k].begin(), times_[pass][k].end(), padded.begin() + k * stride + 1);
    }
    RINGLAB_RETURN_IF_ERROR(GatherToRoot(padded.data(), int64_t(padded.size() * sizeof(double)), &g->times[pass]));
  }
  if (!req.collect_outputs) return Status::Ok();
  const int64_t rows = int64_t(p_.batch) * p_.heads, d = p_.head_dim;
  RINGLAB_RETURN_IF_ERROR(GatherBufferToRoot(BufferRef{BufferKind::kOut, 0}, 0, rows * piece_ * d * 4, &g->out));
  RINGLAB_RETURN_IF_ERROR(GatherBufferToRoot(BufferRef{BufferKind::kLse, 0}, 0, rows * piece_ * 4, &g->lse));
  if (!job_.bwd) return Status::Ok();
  RINGLAB_RETURN_IF_ERROR(GatherBufferToRoot(BufferRef{BufferKind::kDQ, 0}, 0, rows * piece_ * d * 4, &g->dq));
  return GatherBufferToRoot(BufferRef{BufferKind::kDKV, 0}, 0, 2 * PieceKvHalf() * 4, &g->dkv);
}

void RankRunner::AssembleResult(const Gathered& g, RunResult* result) const {
  const RunRequest& req = *job_.request;
  char name[256] = {0};
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, r_.device) == cudaSuccess) std::snprintf(name, sizeof name, "%s", prop.name);
  result->gpu_name = name;
  result->rank_fwd_ms.clear();
  result->rank_fwdbwd_ms.clear();
  result->buffer_bytes.clear();
  result->device_used_bytes.clear();
  for (const auto& v : g.stats) {
    double x[6];
    std::memcpy(x, v.data(), sizeof x);
    result->rank_fwd_ms.push_back(x[0]);
    result->rank_fwdbwd_ms.push_back(x[1]);
    result->buffer_bytes.push_back(int64_t(x[2]));
    result->device_used_bytes.push_back(int64_t(x[3]));
    result->warmup_done[0] = std::max(result->warmup_done[0], int(x[4]));
    result->warmup_done[1] = std::max(result->warmup_done[1], int(x[5]));
  }
  result->fwd_ms = *std::max_element(result->rank_fwd_ms.begin(), result->rank_fwd_ms.end());
  result->fwdbwd_ms = *std::max_element(result->rank_fwdbwd_ms.begin(), result->rank_fwdbwd_ms.end());
  for (int pass = 0; pass < (job_.bwd ? 2 : 1); ++pass) AssembleTraces(pass, g, name, result);
  if (req.collect_outputs) AssembleOutputs(g, &result->outputs);
}

// The timelines of one pass: a Trace per timed iteration (every rank's ops on one clock), and the iteration whose
// slowest rank is the median one.
void RankRunner::AssembleTraces(int pass, const Gathered& g, const std::string& gpu_name, RunResult* result) const {
  const int iters = std::max(1, job_.request->iters);
  const Schedule& s = pass == 0 ? *job_.fwd : *job_.bwd;
  const size_t stride = 1 + 2 * MaxOps(pass);
  std::vector<Trace>& all = pass == 0 ? result->fwd_iterations : result->bwd_iterations;
  all.clear();
  std::vector<std::pair<double, int>> slowest;  // (slowest rank's time, iteration)
  for (int k = 0; k < iters; ++k) {
    Trace tr;
    tr.meta = TraceMeta{.source = "real", .config = s.config,
                        .hardware = gpu_name + " x" + std::to_string(job_.world),
                        .schedule_op_count = s.OpCount()};
    double t0 = INFINITY, worst = 0;
    for (int r = 0; r < job_.world; ++r) {
      const double* t = reinterpret_cast<const double*>(g.times[pass][r].data()) + k * stride;
      worst = std::max(worst, t[0]);
      for (size_t i = 0; i < s.ranks[r].ops.size(); ++i) t0 = std::min(t0, t[1 + 2 * i]);
    }
    if (!std::isfinite(t0)) t0 = 0;
    for (int r = 0; r < job_.world; ++r) {
      const double* t = reinterpret_cast<const double*>(g.times[pass][r].data()) + k * stride + 1;
      for (size_t i = 0; i < s.ranks[r].ops.size(); ++i) {
        TraceEvent e = EventFor(r, s.ranks[r].ops[i]);
        e.ts_us = (t[2 * i] - t0) * 1000.0;
        e.dur_us = std::max(0.0, t[2 * i + 1] - t[2 * i]) * 1000.0;
        tr.events.push_back(e);
      }
    }
    std::sort(tr.events.begin(), tr.events.end(), [](const TraceEvent& a, const TraceEvent& b) {
      return std::tie(a.rank, a.ts_us, a.op) < std::tie(b.rank, b.ts_us, b.op);
    });
    all.push_back(std::move(tr));
    slowest.emplace_back(worst, k);
  }
  std::vector<double>& per_iter = pass == 0 ? result->fwd_iteration_ms : result->fwdbwd_iteration_ms;
  per_iter.clear();
  for (const auto& [ms, k] : slowest) per_iter.push_back(ms);
  std::sort(slowest.begin(), slowest.end());
  const int median = slowest[slowest.size() / 2].second;  // as Median() picks
  (pass == 0 ? result->fwd_traced : result->bwd_traced) = median;
  (pass == 0 ? result->fwd_trace : result->bwd_trace) = all[median];
}

void RankRunner::AssembleOutputs(const Gathered& g, Outputs* o) const {
  const int64_t rows = int64_t(p_.batch) * p_.heads, kvrows = int64_t(p_.batch) * p_.kv_heads, d = p_.head_dim;
  o->out = layout_.Unshard(g.out, rows, d);
  o->lse = layout_.Unshard(g.lse, rows, 1);
  if (!job_.bwd) return;
  o->dq = layout_.Unshard(g.dq, rows, d);
  std::vector<std::vector<float>> dk(g.dkv.size()), dv(g.dkv.size());
  const int64_t half = kvrows * piece_ * d;
  for (size_t r = 0; r < g.dkv.size(); ++r) {
    dk[r].assign(g.dkv[r].begin(), g.dkv[r].begin() + half);
    dv[r].assign(g.dkv[r].begin() + half, g.dkv[r].begin() + 2 * half);
  }
  o->dk = layout_.Unshard(dk, kvrows, d);
  o->dv = layout_.Unshard(dv, kvrows, d);
}

}  // namespace ringlab::gpu::detail
