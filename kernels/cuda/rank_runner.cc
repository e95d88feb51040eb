// RankRunner: buffers, inputs, issuing a pass of the rank's ops on its two streams, and the timed iterations.
#include "kernels/cuda/rank_runner.h"

#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numeric>
#include <thread>

#include "core/start_order.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gpu_helpers.h"
#include "kernels/cuda/nccl_check.h"

namespace ringlab::gpu::detail {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Where the rank's input piece comes from, as equal chunks of global tokens: the piece's ranges (one, two where a
// head-tail ring shard's chunk boundary cuts it, four for a balanced shard) in pieces of their greatest common length.
// False if that takes more than the chunks ShardMap holds (no layout the validator accepts does).
bool PieceShardMap(const UlyssesLayout& l, int rank, int64_t seq, ShardMap* map) {
  const std::vector<TokenRange> ranges = l.Piece(rank);
  int64_t g = 0;
  for (const TokenRange& t : ranges) g = std::gcd(g, std::gcd(t.begin, t.end));
  *map = ShardMap{.shard_tokens = l.PieceTokens(), .chunk_tokens = g, .seq = seq, .chunks = 0};
  for (const TokenRange& t : ranges)
    for (int64_t b = t.begin; b < t.end; b += g) {
      if (map->chunks == ShardMap::kMaxChunks) return false;
      map->chunk[map->chunks++] = int(b / g);
    }
  return g > 0;
}

}  // namespace

Fault FaultFromEnv() {
  Fault f;
  const char* s = std::getenv("RINGLAB_FAULT");  // "RANK:OP:KIND", testing only
  if (!s) return f;
  char kind[16] = {0};
  if (std::sscanf(s, "%d:%d:%15s", &f.rank, &f.op, kind) == 3) f.kind = kind;
  else f.rank = -1;
  return f;
}

Status RankRunner::Error(const std::string& what) {
  const std::string msg = "rank " + std::to_string(r_.rank) + " (GPU " + std::to_string(r_.device) + "): " + what;
  shared_.Fail(msg);
  return Status::Internal(msg);
}

Status RankRunner::Cuda(cudaError_t e, const char* what) {
  const Status s = cuda::CudaStatus(e, what);
  return s.ok() ? s : Error(s.message());
}

Status RankRunner::Nccl(ncclResult_t res, const char* what) {
  const Status s = NcclStatus(res, what);
  if (s.ok()) return s;
  std::string extra;
  if (r_.comm) {
    const char* last = ncclGetLastError(r_.comm);
    if (last && *last) extra = std::string(" (") + last + ")";
  }
  return Error(s.message() + extra);
}

Status RankRunner::Kernel(const Status& launched, const char* what) {
  if (launched.ok()) return launched;
  return Error(std::string(what) + ": " + launched.message());
}

size_t RankRunner::MaxOps(int pass) const {
  size_t n = 0;
  for (const RankSchedule& rs : (pass == 0 ? job_.fwd : job_.bwd)->ranks) n = std::max(n, rs.ops.size());
  return n;
}

Status RankRunner::WaitEvent(cudaEvent_t ev, const char* what) {
  Busy busy(r_, what);
  while (true) {
    const cudaError_t e = cudaEventQuery(ev);
    if (e == cudaSuccess) return Status::Ok();
    if (e != cudaErrorNotReady) return Cuda(e, what);
    if (shared_.aborted) return Aborted();
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

Status RankRunner::Allocate() {
  std::map<std::pair<int, int>, int64_t> want;
  for (const Schedule* s : {job_.fwd, job_.bwd}) {
    if (!s) continue;
    for (const BufferInfo& b : s->ranks[r_.rank].buffers) {
      int64_t& w = want[{int(b.ref.kind), int(b.ref.slot)}];
      w = std::max(w, b.bytes);
    }
  }
  for (const Schedule* s : {job_.fwd, job_.bwd})
    if (s && AllToAllStagingBytes(*s, r_.rank) > 0) {
      int64_t& w = want[{int(kAllToAllStaging.kind), int(kAllToAllStaging.slot)}];
      w = std::max(w, AllToAllStagingBytes(*s, r_.rank));
    }
  for (const auto& [key, bytes] : want) {
    Buffer b;
    b.bytes = bytes;
    RINGLAB_RETURN_IF_ERROR(Cuda(cudaMalloc(&b.ptr, std::max<int64_t>(bytes, 16)), "cudaMalloc of a schedule buffer"));
    r_.buffers[key] = b;
  }
  RINGLAB_RETURN_IF_ERROR(UploadMaskDocuments());
  for (int pass = 0; pass < (job_.bwd ? 2 : 1); ++pass) {
    const size_t n = Sched(pass).ops.size();
    go_first_[pass] = job_.request->listed_start_order ? ListedStartWaits(Sched(pass))
                                                       : std::vector<std::vector<int32_t>>(n);
    for (auto* v : {&r_.ev_start[pass], &r_.ev_end[pass]}) {
      v->resize(n);
      for (cudaEvent_t& e : *v) RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventCreate(&e), "cudaEventCreate"));
    }
  }
  return Status::Ok();
}

void RankRunner::FreeBuffers() {
  for (auto& [key, b] : r_.buffers) cudaFree(b.ptr);
  r_.buffers.clear();
  for (int pass = 0; pass < 2; ++pass) {
    for (auto* v : {&r_.ev_start[pass], &r_.ev_end[pass]}) {
      for (cudaEvent_t e : *v) cudaEventDestroy(e);
      v->clear();
    }
  }
}

Status RankRunner::FillInputs() {
  const InputSource& in = *job_.inputs;
  // The rank's input piece: every head over its S/W tokens (the ring shard when ulysses = 1).
  const int64_t qrows = int64_t(p_.batch) * p_.heads, kvrows = int64_t(p_.batch) * p_.kv_heads, d = p_.head_dim;
  const BufferRef q{BufferKind::kQ, 0}, kv{BufferKind::kKV, 0}, dout{BufferKind::kDOut, 0};
  if (in.FromHost()) {
    auto upload = [&](const std::vector<float>& global, int64_t rows, char* dst) -> Status {
      const std::vector<float> shard = layout_.Shard(global, rows, d, r_.rank);
      std::vector<uint16_t> bits(shard.size());
      for (size_t i = 0; i < shard.size(); ++i)
        bits[i] = elem_ == cuda::ElementType::kBFloat16 ? FloatToBf16Bits(shard[i]) : FloatToHalfBits(shard[i]);
      // Ordered before the kernels on the non-blocking compute stream (a pageable cudaMemcpy returns once the data is
      // staged, before its DMA lands, and the legacy stream does not order non-blocking streams).
      return Cuda(cudaMemcpyAsync(dst, bits.data(), bits.size() * 2, cudaMemcpyHostToDevice, r_.compute),
                  "cudaMemcpyAsync of an input");
    };
    RINGLAB_RETURN_IF_ERROR(upload(in.q, qrows, Ptr(q)));
    RINGLAB_RETURN_IF_ERROR(upload(in.k, kvrows, Ptr(kv)));
    RINGLAB_RETURN_IF_ERROR(upload(in.v, kvrows, Ptr(kv) + PieceKvHalf() * Es()));
    if (Find(dout)) RINGLAB_RETURN_IF_ERROR(upload(in.dout, qrows, Ptr(dout)));
  } else {
    ShardMap map;
    if (!PieceShardMap(layout_, r_.rank, p_.seq, &map))
      return Error("the input piece is not at most " + std::to_string(ShardMap::kMaxChunks) + " equal chunks");
    RINGLAB_RETURN_IF_ERROR(Kernel(LaunchRandomFill(elem_, Ptr(q), qrows, p_.head_dim, map, in.seed, 0, r_.compute), "fill q"));
    RINGLAB_RETURN_IF_ERROR(Kernel(LaunchRandomFill(elem_, Ptr(kv), kvrows, p_.head_dim, map, in.seed, 1, r_.compute), "fill k"));
    RINGLAB_RETURN_IF_ERROR(Kernel(
        LaunchRandomFill(elem_, Ptr(kv) + PieceKvHalf() * Es(), kvrows, p_.head_dim, map, in.seed, 2, r_.compute),
        "fill v"));
    if (Find(dout))
      RINGLAB_RETURN_IF_ERROR(
          Kernel(LaunchRandomFill(elem_, Ptr(dout), qrows, p_.head_dim, map, in.seed, 3, r_.compute), "fill dout"));
  }
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(r_.init, r_.compute), "cudaEventRecord"));
  return WaitEvent(r_.init, "filling the inputs");
}

Status RankRunner::Barrier() {
  if (job_.world == 1) return Status::Ok();
  Busy busy(r_, "the barrier all-reduce");
  return Nccl(ncclAllReduce(r_.scratch, r_.scratch, 1, ncclFloat, ncclSum, r_.comm, r_.compute), "ncclAllReduce (barrier)");
}

Status RankRunner::InjectFault(const Op& op) {
  fault_armed_ = false;
  if (job_.fault.kind == "exit") {
    std::fprintf(stderr, "ringlab: injected fault: rank %d exits at op %d\n", r_.rank, op.id);
    std::fflush(stderr);
    std::_Exit(1);
  }
  if (job_.fault.kind == "hang") {
    Busy busy(r_, "an injected hang");
    while (!shared_.aborted) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return Aborted();
  }
  return Error("injected fault at op " + std::to_string(op.id));
}

Status RankRunner::IssuePass(int pass) {
  const RankSchedule& rs = Sched(pass);
  // Buffer initialisation as the table says, on the compute stream; the comm stream waits for it.
  for (const BufferInfo& info : rs.buffers) {
    const Buffer* b = Find(info.ref);
    switch (info.init) {
      case BufferInit::kZero:
        RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemsetAsync(b->ptr, 0, size_t(info.bytes), r_.compute), "cudaMemsetAsync"));
        break;
      case BufferInit::kNegInf:
        RINGLAB_RETURN_IF_ERROR(Kernel(LaunchFill(static_cast<float*>(b->ptr), -INFINITY, info.bytes / 4, r_.compute), "fill"));
        break;
      case BufferInit::kNone:
        if (job_.request->poison)
          RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemsetAsync(b->ptr, 0xff, size_t(info.bytes), r_.compute), "cudaMemsetAsync"));
        break;
      case BufferInit::kInput: break;
    }
  }
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(r_.init, r_.compute), "cudaEventRecord"));
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaStreamWaitEvent(r_.comm_stream, r_.init, 0), "cudaStreamWaitEvent"));
  const std::vector<Op>& ops = rs.ops;
  std::vector<cudaEvent_t>& start = r_.ev_start[pass];
  std::vector<cudaEvent_t>& end = r_.ev_end[pass];
  // Start order (core/start_order.h): a kernel waits for the start of the transfers listed before it that go first.
  const std::vector<std::vector<int32_t>>& go_first = go_first_[pass];
  for (size_t i = 0; i < ops.size();) {
    // A group: consecutive comm ops with one group id, posted inside one ncclGroupStart/End.
    size_t j = i + 1;
    if (IsCommunication(ops[i].kind) && ops[i].group >= 0)
      while (j < ops.size() && IsCommunication(ops[j].kind) && ops[j].group == ops[i].group &&
             ops[j].stream == ops[i].stream)
        ++j;
    for (size_t k = i; k < j; ++k) {
      const Op& op = ops[k];
      if (pass == 0 && fault_armed_ && job_.fault.rank == r_.rank && job_.fault.op == op.id) return InjectFault(op);
      const cudaStream_t st = StreamOf(op);
      for (int32_t dep : op.deps)
        RINGLAB_RETURN_IF_ERROR(Cuda(cudaStreamWaitEvent(st, end[dep], 0), "cudaStreamWaitEvent (dependency)"));
      for (int32_t c : go_first[k])
        RINGLAB_RETURN_IF_ERROR(Cuda(cudaStreamWaitEvent(st, start[c], 0), "cudaStreamWaitEvent (start order)"));
      RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(start[k], st), "cudaEventRecord"));
    }
    const bool nccl = IsCommunication(ops[i].kind);
    if (nccl && job_.world == 1) return Error("a communication op in a one-rank schedule");
    {
      Busy busy(r_, nccl ? "posting NCCL operations" : "launching a kernel");
      if (j - i > 1) RINGLAB_RETURN_IF_ERROR(Nccl(ncclGroupStart(), "ncclGroupStart"));
      for (size_t k = i; k < j; ++k) {
        const Op& op = ops[k];
        if (op.kind == OpKind::kAttend)
          RINGLAB_RETURN_IF_ERROR(pass == 0 ? AttendForward(op, StreamOf(op)) : AttendBackward(op, StreamOf(op)));
        else
          RINGLAB_RETURN_IF_ERROR(Execute(op, StreamOf(op)));
      }
      if (j - i > 1) RINGLAB_RETURN_IF_ERROR(Nccl(ncclGroupEnd(), "ncclGroupEnd"));
    }
    for (size_t k = i; k < j; ++k)
      RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(end[k], StreamOf(ops[k])), "cudaEventRecord"));
    i = j;
  }
  // Join: the compute stream continues only after the comm stream's work.
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(r_.join, r_.comm_stream), "cudaEventRecord"));
  return Cuda(cudaStreamWaitEvent(r_.compute, r_.join, 0), "cudaStreamWaitEvent (join)");
}

Status RankRunner::Iterate(bool with_bwd, bool record, double* ms) {
  RINGLAB_RETURN_IF_ERROR(Barrier());
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(r_.iter_start, r_.compute), "cudaEventRecord"));
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaStreamWaitEvent(r_.comm_stream, r_.iter_start, 0), "cudaStreamWaitEvent"));
  RINGLAB_RETURN_IF_ERROR(IssuePass(0));
  if (with_bwd) RINGLAB_RETURN_IF_ERROR(IssuePass(1));
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(r_.iter_end, r_.compute), "cudaEventRecord"));
  RINGLAB_RETURN_IF_ERROR(WaitEvent(r_.iter_end, "waiting for an iteration to finish on the GPU"));
  float f = 0;
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventElapsedTime(&f, r_.iter_start, r_.iter_end), "cudaEventElapsedTime"));
  *ms = f;
  if (!record) return Status::Ok();
  const int pass = with_bwd ? 1 : 0;  // a forward+backward iteration gives the backward timeline
  const size_t n = r_.ev_start[pass].size();
  std::vector<double> t(2 * n, NAN);
  for (size_t i = 0; i < n; ++i) {
    float a = 0, b = 0;
    RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventElapsedTime(&a, r_.iter_start, r_.ev_start[pass][i]), "cudaEventElapsedTime"));
    RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventElapsedTime(&b, r_.iter_start, r_.ev_end[pass][i]), "cudaEventElapsedTime"));
    t[2 * i] = a;
    t[2 * i + 1] = b;
  }
  times_[pass].push_back(std::move(t));
  return Status::Ok();
}

// Every rank passes its own value and gets the largest (one float all-reduce on the compute stream).
Status RankRunner::AgreeMax(double* x) {
  if (job_.world == 1) return Status::Ok();
  float v = float(*x);
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemcpyAsync(r_.scratch + 1, &v, sizeof v, cudaMemcpyHostToDevice, r_.compute),
                               "cudaMemcpyAsync (agree)"));
  {
    Busy busy(r_, "the warm-up count all-reduce");
    RINGLAB_RETURN_IF_ERROR(
        Nccl(ncclAllReduce(r_.scratch + 1, r_.scratch + 1, 1, ncclFloat, ncclMax, r_.comm, r_.compute), "ncclAllReduce (agree)"));
  }
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaEventRecord(r_.join, r_.compute), "cudaEventRecord"));
  RINGLAB_RETURN_IF_ERROR(WaitEvent(r_.join, "agreeing on the warm-up count"));
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemcpy(&v, r_.scratch + 1, sizeof v, cudaMemcpyDeviceToHost), "cudaMemcpy (agree)"));
  *x = v;
  return Status::Ok();
}

// Warm-up (the requested count, then more until warmup_ms of GPU time, as agreed by all ranks), then the timed
// iterations, whose timelines are kept.
Status RankRunner::TimeIterations(bool with_bwd, int* warmups, std::vector<double>* ms) {
  const RunRequest& req = *job_.request;
  double last = 0, total = 0;
  int done = 0;
  for (; done < req.warmup; ++done) {
    RINGLAB_RETURN_IF_ERROR(Iterate(with_bwd, false, &last));
    total += last;
  }
  if (req.warmup_ms > 0) {
    if (done == 0) {
      RINGLAB_RETURN_IF_ERROR(Iterate(with_bwd, false, &last));
      total += last;
      ++done;
    }
    double more = std::min(100000.0, std::ceil(std::max(0.0, req.warmup_ms - total) / std::max(last, 1e-3)));
    RINGLAB_RETURN_IF_ERROR(AgreeMax(&more));
    for (int i = 0; i < int(more); ++i, ++done) RINGLAB_RETURN_IF_ERROR(Iterate(with_bwd, false, &last));
  }
  *warmups = done;
  ms->clear();
  for (int it = 0; it < std::max(1, req.iters); ++it) {
    double t = 0;
    RINGLAB_RETURN_IF_ERROR(Iterate(with_bwd, true, &t));
    ms->push_back(t);
  }
  return Status::Ok();
}

Status RankRunner::Main(RunResult* result) {
  Status st = SplitRingComm();
  if (st.ok()) st = Allocate();
  if (st.ok()) st = FillInputs();
  Timings timings;
  times_[0].clear();
  times_[1].clear();
  for (int with_bwd = 0; st.ok() && with_bwd <= (job_.bwd ? 1 : 0); ++with_bwd) {
    st = TimeIterations(with_bwd, &timings.warmups[with_bwd], &timings.iter_ms[with_bwd]);
    timings.median_ms[with_bwd] = Median(timings.iter_ms[with_bwd]);
  }
  Gathered gathered;
  if (st.ok()) st = GatherResults(timings, &gathered);
  ReleaseRingComm(!st.ok());
  if (!st.ok()) return st;  // buffers stay allocated: after a failure the device state is not trusted
  FreeBuffers();
  if (r_.rank != 0) return Status::Ok();
  AssembleResult(gathered, result);
  return Status::Ok();
}

}  // namespace ringlab::gpu::detail
