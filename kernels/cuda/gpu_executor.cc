#include "kernels/cuda/gpu_executor.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unistd.h>

#include "core/metrics.h"
#include "core/sharding.h"
#include "core/start_order.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/gpu_helpers.h"
#include "kernels/cuda/nccl_id_exchange.h"

namespace ringlab::gpu {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kReserveBytes = int64_t(512) << 20;  // NCCL buffers and workspace beyond the schedule's buffers
constexpr double kGraceS = 10;                         // after an abort, how long ranks may take to leave

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

std::string Gib(int64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / double(int64_t(1) << 30));
  return b;
}

// Process-wide abort state shared by every local rank and the watchdog.
struct Shared {
  std::atomic<bool> aborted{false};
  std::mutex mu;
  std::string message;
  std::string abort_file;  // multi-process file mode: peers poll it
  double timeout_s = 300;

  void Fail(const std::string& msg) {
    std::lock_guard lock(mu);
    if (aborted) return;
    message = msg;
    aborted = true;
    if (!abort_file.empty()) {
      std::ofstream f(abort_file);
      f << msg << "\n";
    }
  }
  std::string Message() {
    std::lock_guard lock(mu);
    return message;
  }
};

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

struct Fault {
  int rank = -1, op = -1;
  std::string kind;  // error | hang | exit
};

Fault FaultFromEnv() {
  Fault f;
  const char* s = std::getenv("RINGLAB_FAULT");  // "RANK:OP:KIND", testing only
  if (!s) return f;
  char kind[16] = {0};
  if (std::sscanf(s, "%d:%d:%15s", &f.rank, &f.op, kind) == 3) f.kind = kind;
  else f.rank = -1;
  return f;
}

// What every rank thread of one Run needs.
struct Job {
  int world = 1;
  const RunRequest* request = nullptr;
  const InputSource* inputs = nullptr;
  const Schedule* fwd = nullptr;
  const Schedule* bwd = nullptr;  // null: forward only
  Fault fault;
};

class RankRunner {
 public:
  RankRunner(Rank& r, const Job& job, Shared& shared)
      : r_(r), job_(job), shared_(shared), cfg_(job.fwd->config), p_(cfg_.problem),
        sh_(cfg_.sharding, cfg_.world, p_.seq), s_(sh_.ShardTokens()) {
    elem_ = p_.dtype == DType::kFloat16 ? cuda::ElementType::kFloat16 : cuda::ElementType::kBFloat16;
  }

  Status Main(RunResult* result);

 private:
  Status Error(const std::string& what) {
    const std::string msg = "rank " + std::to_string(r_.rank) + " (GPU " + std::to_string(r_.device) + "): " + what;
    shared_.Fail(msg);
    return Status::Internal(msg);
  }
  Status Cuda(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return Status::Ok();
    return Error(std::string(what) + ": " + cudaGetErrorString(e));
  }
  Status Nccl(ncclResult_t res, const char* what) {
    if (res == ncclSuccess || res == ncclInProgress) return Status::Ok();
    std::string extra;
    if (r_.comm) {
      const char* last = ncclGetLastError(r_.comm);
      if (last && *last) extra = std::string(" (") + last + ")";
    }
    return Error(std::string(what) + ": " + ncclGetErrorString(res) + extra);
  }
  Status Kernel(const char* err, const char* what) {
    if (!err || !*err) return Status::Ok();
    return Error(std::string(what) + ": " + err);
  }
  Status Aborted() { return Status::Internal(shared_.Message()); }

  int64_t Es() const { return 2; }
  int64_t KvHalf() const { return int64_t(p_.batch) * p_.kv_heads * s_ * p_.head_dim; }
  const Buffer* Find(BufferRef ref) const {
    auto it = r_.buffers.find({int(ref.kind), int(ref.slot)});
    return it == r_.buffers.end() ? nullptr : &it->second;
  }
  char* Ptr(BufferRef ref) const { return static_cast<char*>(Find(ref)->ptr); }
  cudaStream_t StreamOf(const Op& op) const { return op.stream == StreamKind::kCompute ? r_.compute : r_.comm_stream; }
  const RankSchedule& Sched(int pass) const { return (pass == 0 ? job_.fwd : job_.bwd)->ranks[r_.rank]; }

  Status Allocate();
  Status FillInputs();
  Status WaitEvent(cudaEvent_t ev, const char* what);
  Status Barrier();
  Status Iterate(bool with_bwd, bool record, double* ms);
  Status AgreeMax(double* x);
  size_t MaxOps(int pass) const {
    size_t n = 0;
    for (const RankSchedule& rs : (pass == 0 ? job_.fwd : job_.bwd)->ranks) n = std::max(n, rs.ops.size());
    return n;
  }
  Status TimeIterations(bool with_bwd, int* warmups, std::vector<double>* ms);
  Status IssuePass(int pass);
  Status Execute(const Op& op, cudaStream_t st);
  Status AttendForward(const Op& op, cudaStream_t st);
  Status AttendBackward(const Op& op, cudaStream_t st);
  Status NcclOp(const Op& op);
  Status GatherToRoot(const void* host, int64_t bytes, std::vector<std::vector<char>>* out);
  Status GatherBufferToRoot(BufferRef ref, int64_t offset_bytes, int64_t bytes, std::vector<std::vector<float>>* out);
  void FreeBuffers();

  Rank& r_;
  const Job& job_;
  Shared& shared_;
  const ScheduleConfig& cfg_;
  const Problem& p_;
  Sharding sh_;
  int64_t s_;
  cuda::ElementType elem_;
  bool fault_armed_ = true;
  // Per pass (0 from the forward-only iterations, 1 from the forward+backward ones): per timed iteration, each op's
  // start and end (ms from the iteration start).
  std::vector<std::vector<double>> times_[2];
  // Per pass, per op: the comm ops whose start the op waits for (core/start_order.h), derived once from the schedule.
  std::vector<std::vector<int32_t>> go_first_[2];
};

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
  for (const auto& [key, bytes] : want) {
    Buffer b;
    b.bytes = bytes;
    RINGLAB_RETURN_IF_ERROR(Cuda(cudaMalloc(&b.ptr, std::max<int64_t>(bytes, 16)), "cudaMalloc of a schedule buffer"));
    r_.buffers[key] = b;
  }
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
  const int64_t qrows = int64_t(p_.batch) * p_.heads, kvrows = int64_t(p_.batch) * p_.kv_heads, d = p_.head_dim;
  const BufferRef q{BufferKind::kQ, 0}, kv{BufferKind::kKV, 0}, dout{BufferKind::kDOut, 0};
  if (in.FromHost()) {
    auto upload = [&](const std::vector<float>& global, int64_t rows, char* dst) -> Status {
      const std::vector<float> shard = sh_.Shard(global, rows, d, r_.rank);
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
    RINGLAB_RETURN_IF_ERROR(upload(in.v, kvrows, Ptr(kv) + KvHalf() * Es()));
    if (Find(dout)) RINGLAB_RETURN_IF_ERROR(upload(in.dout, qrows, Ptr(dout)));
  } else {
    ShardMap map{.shard_tokens = s_, .chunk_tokens = sh_.ChunkTokens(), .seq = p_.seq, .chunks = sh_.ChunksPerRank()};
    for (int i = 0; i < map.chunks; ++i) map.chunk[i] = sh_.Chunk(r_.rank, i);
    RINGLAB_RETURN_IF_ERROR(Kernel(LaunchRandomFill(elem_, Ptr(q), qrows, p_.head_dim, map, in.seed, 0, r_.compute), "fill q"));
    RINGLAB_RETURN_IF_ERROR(Kernel(LaunchRandomFill(elem_, Ptr(kv), kvrows, p_.head_dim, map, in.seed, 1, r_.compute), "fill k"));
    RINGLAB_RETURN_IF_ERROR(Kernel(
        LaunchRandomFill(elem_, Ptr(kv) + KvHalf() * Es(), kvrows, p_.head_dim, map, in.seed, 2, r_.compute), "fill v"));
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

Status RankRunner::AttendForward(const Op& op, cudaStream_t st) {
  const AttendBlock& b = op.attend;
  const int64_t d = p_.head_dim;
  const char* kv = nullptr;
  for (const BufferRef& ref : op.reads) {
    if (ref.kind == BufferKind::kKV || ref.kind == BufferKind::kKVRing) kv = Ptr(ref);
    if (ref.kind == BufferKind::kKVGathered) kv = Ptr(ref) + 2 * KvHalf() * Es() * b.kv_origin;
  }
  if (!kv) return Error("attend op " + std::to_string(op.id) + " reads no K/V buffer");
  cuda::ForwardParams fp;
  fp.shape = cuda::BlockShape{.batch = p_.batch, .heads = p_.heads, .kv_heads = p_.kv_heads, .q_tokens = b.QTokens(),
                              .kv_tokens = b.KvTokens(), .head_dim = p_.head_dim, .scale = 0.f, .causal = b.causal,
                              .diagonal_offset = b.diagonal_offset, .element = elem_};
  fp.q = Ptr(BufferRef{BufferKind::kQ, 0}) + b.q_begin * d * Es();
  fp.k = kv + b.kv_begin * d * Es();
  fp.v = kv + (KvHalf() + b.kv_begin * d) * Es();
  fp.q_strides = {int64_t(p_.heads) * s_ * d, s_ * d};
  fp.k_strides = fp.v_strides = {int64_t(p_.kv_heads) * s_ * d, s_ * d};
  fp.out_acc = reinterpret_cast<float*>(Ptr(op.writes[0])) + b.q_begin * d;
  fp.lse_acc = reinterpret_cast<float*>(Ptr(op.writes[1])) + b.q_begin;
  fp.out_strides = {int64_t(p_.heads) * s_ * d, s_ * d};
  fp.lse_strides = {int64_t(p_.heads) * s_, s_};
  fp.mode = (b.merge && op.writes[0].kind == BufferKind::kOut) ? cuda::AccumulateMode::kMerge
                                                               : cuda::AccumulateMode::kOverwrite;
  return Kernel(cuda::LaunchForward(fp, st), "LaunchForward");
}

Status RankRunner::AttendBackward(const Op& op, cudaStream_t st) {
  const AttendBlock& b = op.attend;
  const int64_t d = p_.head_dim;
  const char* kv = nullptr;
  for (const BufferRef& ref : op.reads) {
    if (ref.kind == BufferKind::kKV || ref.kind == BufferKind::kKVRing) kv = Ptr(ref);
    if (ref.kind == BufferKind::kKVGathered) kv = Ptr(ref) + 2 * KvHalf() * Es() * b.kv_origin;
  }
  if (!kv || op.writes.size() < 2) return Error("backward attend op " + std::to_string(op.id) + " has no K/V or dK/dV");
  const BufferRef target = op.writes[1];
  float* dkv = reinterpret_cast<float*>(Ptr(target));
  if (target.kind == BufferKind::kDKVGathered) dkv += 2 * KvHalf() * b.kv_origin;
  if (!b.merge) {  // the origin's whole dK/dV shard is set: rows outside the block become zero
    const size_t pitch = size_t(s_) * d * 4, height = size_t(2) * p_.batch * p_.kv_heads;
    if (b.kv_begin > 0)
      RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemset2DAsync(dkv, pitch, 0, size_t(b.kv_begin) * d * 4, height, st), "cudaMemset2DAsync"));
    if (b.kv_end < s_)
      RINGLAB_RETURN_IF_ERROR(Cuda(cudaMemset2DAsync(dkv + b.kv_end * d, pitch, 0, size_t(s_ - b.kv_end) * d * 4, height, st),
                                   "cudaMemset2DAsync"));
  }
  cuda::BackwardParams bp;
  bp.shape = cuda::BlockShape{.batch = p_.batch, .heads = p_.heads, .kv_heads = p_.kv_heads, .q_tokens = b.QTokens(),
                              .kv_tokens = b.KvTokens(), .head_dim = p_.head_dim, .scale = 0.f, .causal = b.causal,
                              .diagonal_offset = b.diagonal_offset, .element = elem_};
  const cuda::TensorStrides qs{int64_t(p_.heads) * s_ * d, s_ * d}, kvs{int64_t(p_.kv_heads) * s_ * d, s_ * d};
  const cuda::TensorStrides rows{int64_t(p_.heads) * s_, s_};
  bp.q = Ptr(BufferRef{BufferKind::kQ, 0}) + b.q_begin * d * Es();
  bp.dout = Ptr(BufferRef{BufferKind::kDOut, 0}) + b.q_begin * d * Es();
  bp.k = kv + b.kv_begin * d * Es();
  bp.v = kv + (KvHalf() + b.kv_begin * d) * Es();
  bp.lse = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kLse, 0})) + b.q_begin;
  bp.delta = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kDelta, 0})) + b.q_begin;
  bp.q_strides = bp.dout_strides = qs;
  bp.k_strides = bp.v_strides = kvs;
  bp.lse_strides = bp.delta_strides = rows;
  bp.dq = reinterpret_cast<float*>(Ptr(op.writes[0])) + b.q_begin * d;
  bp.dq_strides = qs;
  bp.dk = dkv + b.kv_begin * d;
  bp.dv = dkv + KvHalf() + b.kv_begin * d;
  bp.dk_strides = bp.dv_strides = kvs;
  bp.accumulate_dkv = b.merge;
  return Kernel(cuda::LaunchBackward(bp, st), "LaunchBackward");
}

Status RankRunner::NcclOp(const Op& op) {
  switch (op.kind) {
    case OpKind::kSend: {
      const Buffer* b = Find(op.reads[0]);
      if (op.bytes > b->bytes) return Error("send op " + std::to_string(op.id) + " is larger than its buffer");
      return Nccl(ncclSend(b->ptr, size_t(op.bytes), ncclInt8, op.peer, r_.comm, r_.comm_stream), "ncclSend");
    }
    case OpKind::kRecv: {
      const Buffer* b = Find(op.writes[0]);
      if (op.bytes > b->bytes) return Error("recv op " + std::to_string(op.id) + " is larger than its buffer");
      return Nccl(ncclRecv(b->ptr, size_t(op.bytes), ncclInt8, op.peer, r_.comm, r_.comm_stream), "ncclRecv");
    }
    case OpKind::kAllGather: {
      const Buffer *src = Find(op.reads[0]), *dst = Find(op.writes[0]);
      if (dst->bytes < src->bytes * job_.world) return Error("all-gather destination is too small");
      return Nccl(ncclAllGather(src->ptr, dst->ptr, size_t(src->bytes), ncclInt8, r_.comm, r_.comm_stream),
                  "ncclAllGather");
    }
    case OpKind::kReduceScatter: {
      const Buffer *src = Find(op.reads[0]), *dst = Find(op.writes[0]);
      if (src->bytes < dst->bytes * job_.world) return Error("reduce-scatter source is too small");
      return Nccl(ncclReduceScatter(src->ptr, dst->ptr, size_t(dst->bytes / 4), ncclFloat, ncclSum, r_.comm,
                                    r_.comm_stream),
                  "ncclReduceScatter");
    }
    default: return Error("not a communication op");
  }
}

Status RankRunner::Execute(const Op& op, cudaStream_t st) {
  const int64_t d = p_.head_dim;
  switch (op.kind) {
    case OpKind::kAttend: return Error("attend ops are issued by IssuePass");
    case OpKind::kMerge: {
      if (op.writes[0].kind == BufferKind::kOut) {  // forward, unfused: log-sum-exp merge of the block's rows
        const AttendBlock& b = op.attend;
        float* out = reinterpret_cast<float*>(Ptr(BufferRef{BufferKind::kOut, 0})) + b.q_begin * d;
        float* lse = reinterpret_cast<float*>(Ptr(BufferRef{BufferKind::kLse, 0})) + b.q_begin;
        const float* po = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kOutPart, 0})) + b.q_begin * d;
        const float* pl = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kLsePart, 0})) + b.q_begin;
        return Kernel(LaunchMergeRows(out, lse, po, pl, int64_t(p_.batch) * p_.heads, b.QTokens(), p_.head_dim, s_ * d,
                                      s_, st),
                      "merge");
      }
      const Buffer* acc = Find(op.writes[0]);  // backward: travelling dK/dV += this step's part
      return Kernel(LaunchAdd(static_cast<float*>(acc->ptr), reinterpret_cast<const float*>(Ptr(op.reads[0])),
                              acc->bytes / 4, st),
                    "dK/dV add");
    }
    case OpKind::kCopy: {
      const Buffer *src = Find(op.reads[0]), *dst = Find(op.writes[0]);
      return Cuda(cudaMemcpyAsync(dst->ptr, src->ptr, size_t(std::min(src->bytes, dst->bytes)), cudaMemcpyDeviceToDevice,
                                  st),
                  "cudaMemcpyAsync (copy op)");
    }
    case OpKind::kPrepare: {
      cuda::BackwardPrepareParams pp;
      pp.batch = p_.batch;
      pp.heads = p_.heads;
      pp.tokens = s_;
      pp.head_dim = p_.head_dim;
      pp.element = elem_;
      pp.dout = Ptr(BufferRef{BufferKind::kDOut, 0});
      pp.out = reinterpret_cast<const float*>(Ptr(BufferRef{BufferKind::kOut, 0}));
      pp.dout_strides = pp.out_strides = {int64_t(p_.heads) * s_ * d, s_ * d};
      pp.delta = reinterpret_cast<float*>(Ptr(BufferRef{BufferKind::kDelta, 0}));
      pp.delta_strides = {int64_t(p_.heads) * s_, s_};
      return Kernel(cuda::LaunchBackwardPrepare(pp, st), "LaunchBackwardPrepare");
    }
    default: return NcclOp(op);
  }
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
      if (pass == 0 && fault_armed_ && job_.fault.rank == r_.rank && job_.fault.op == op.id) {
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

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Status RankRunner::Main(RunResult* result) {
  Status st = Allocate();
  if (st.ok()) st = FillInputs();
  const RunRequest& req = *job_.request;
  double fwd_ms = 0, fwdbwd_ms = 0;
  std::vector<double> iter_ms[2];
  int warmups[2] = {0, 0};
  times_[0].clear();
  times_[1].clear();
  for (int with_bwd = 0; st.ok() && with_bwd <= (job_.bwd ? 1 : 0); ++with_bwd) {
    st = TimeIterations(with_bwd, &warmups[with_bwd], &iter_ms[with_bwd]);
    (with_bwd ? fwdbwd_ms : fwd_ms) = Median(iter_ms[with_bwd]);
  }
  // Results to the root: per-rank stats, per-iteration times and per-op times, outputs.
  size_t free_b = 0, total_b = 0;
  if (st.ok()) st = Cuda(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
  int64_t buffer_bytes = 0;
  for (const auto& [k, b] : r_.buffers) buffer_bytes += b.bytes;
  std::vector<std::vector<char>> stats, times[2];
  if (st.ok()) {
    const double mine[6] = {fwd_ms, fwdbwd_ms, double(buffer_bytes), double(total_b - free_b), double(warmups[0]),
                            double(warmups[1])};
    st = GatherToRoot(mine, sizeof mine, &stats);
  }
  const int iters = std::max(1, req.iters);
  for (int pass = 0; pass < (job_.bwd ? 2 : 1) && st.ok(); ++pass) {
    // Per iteration: its time, then each op's start and end, padded to the longest rank's op count.
    const size_t stride = 1 + 2 * MaxOps(pass);
    std::vector<double> padded(iters * stride, NAN);
    for (size_t k = 0; k < times_[pass].size() && k < size_t(iters); ++k) {
      padded[k * stride] = k < iter_ms[pass].size() ? iter_ms[pass][k] : NAN;
      std::copy(times_[pass][k].begin(), times_[pass][k].end(), padded.begin() + k * stride + 1);
    }
    st = GatherToRoot(padded.data(), int64_t(padded.size() * sizeof(double)), &times[pass]);
  }
  std::vector<std::vector<float>> out, lse, dq, dkv;
  if (st.ok() && req.collect_outputs) {
    const int64_t rows = int64_t(p_.batch) * p_.heads, d = p_.head_dim;
    st = GatherBufferToRoot(BufferRef{BufferKind::kOut, 0}, 0, rows * s_ * d * 4, &out);
    if (st.ok()) st = GatherBufferToRoot(BufferRef{BufferKind::kLse, 0}, 0, rows * s_ * 4, &lse);
    if (st.ok() && job_.bwd) st = GatherBufferToRoot(BufferRef{BufferKind::kDQ, 0}, 0, rows * s_ * d * 4, &dq);
    if (st.ok() && job_.bwd) st = GatherBufferToRoot(BufferRef{BufferKind::kDKV, 0}, 0, 2 * KvHalf() * 4, &dkv);
  }
  if (!st.ok()) return st;  // buffers stay allocated: after a failure the device state is not trusted
  FreeBuffers();
  if (r_.rank != 0) return Status::Ok();

  // Root: assemble the result.
  char name[256] = {0};
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, r_.device) == cudaSuccess) std::snprintf(name, sizeof name, "%s", prop.name);
  result->gpu_name = name;
  result->rank_fwd_ms.clear();
  result->rank_fwdbwd_ms.clear();
  result->buffer_bytes.clear();
  result->device_used_bytes.clear();
  for (const auto& v : stats) {
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
  for (int pass = 0; pass < (job_.bwd ? 2 : 1); ++pass) {
    const Schedule& s = pass == 0 ? *job_.fwd : *job_.bwd;
    const size_t stride = 1 + 2 * MaxOps(pass);
    std::vector<Trace>& all = pass == 0 ? result->fwd_iterations : result->bwd_iterations;
    all.clear();
    std::vector<std::pair<double, int>> slowest;  // (slowest rank's time, iteration)
    for (int k = 0; k < iters; ++k) {
      Trace tr;
      tr.meta = TraceMeta{.source = "real", .config = s.config,
                          .hardware = std::string(name) + " x" + std::to_string(job_.world),
                          .schedule_op_count = s.OpCount()};
      double t0 = INFINITY, worst = 0;
      for (int r = 0; r < job_.world; ++r) {
        const double* t = reinterpret_cast<const double*>(times[pass][r].data()) + k * stride;
        worst = std::max(worst, t[0]);
        for (size_t i = 0; i < s.ranks[r].ops.size(); ++i) t0 = std::min(t0, t[1 + 2 * i]);
      }
      if (!std::isfinite(t0)) t0 = 0;
      for (int r = 0; r < job_.world; ++r) {
        const double* t = reinterpret_cast<const double*>(times[pass][r].data()) + k * stride + 1;
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
  if (req.collect_outputs) {
    const int64_t rows = int64_t(p_.batch) * p_.heads, kvrows = int64_t(p_.batch) * p_.kv_heads, d = p_.head_dim;
    Outputs& o = result->outputs;
    o.out = sh_.Unshard(out, rows, d);
    o.lse = sh_.Unshard(lse, rows, 1);
    if (job_.bwd) {
      o.dq = sh_.Unshard(dq, rows, d);
      std::vector<std::vector<float>> dk(dkv.size()), dv(dkv.size());
      const int64_t half = kvrows * s_ * d;
      for (size_t r = 0; r < dkv.size(); ++r) {
        dk[r].assign(dkv[r].begin(), dkv[r].begin() + half);
        dv[r].assign(dkv[r].begin() + half, dkv[r].begin() + 2 * half);
      }
      o.dk = sh_.Unshard(dk, kvrows, d);
      o.dv = sh_.Unshard(dv, kvrows, d);
    }
  }
  return Status::Ok();
}

Status CreateRankResources(Rank& r) {
  auto cuda = [&](cudaError_t e, const char* what) {
    return e == cudaSuccess ? Status::Ok()
                            : Status::Internal("GPU " + std::to_string(r.device) + ": " + what + ": " + cudaGetErrorString(e));
  };
  RINGLAB_RETURN_IF_ERROR(cuda(cudaSetDevice(r.device), "cudaSetDevice"));
  RINGLAB_RETURN_IF_ERROR(cuda(cudaStreamCreateWithFlags(&r.compute, cudaStreamNonBlocking), "cudaStreamCreate"));
  RINGLAB_RETURN_IF_ERROR(cuda(cudaStreamCreateWithFlags(&r.comm_stream, cudaStreamNonBlocking), "cudaStreamCreate"));
  for (cudaEvent_t* e : {&r.iter_start, &r.iter_end, &r.join, &r.init})
    RINGLAB_RETURN_IF_ERROR(cuda(cudaEventCreate(e), "cudaEventCreate"));
  RINGLAB_RETURN_IF_ERROR(cuda(cudaMalloc(&r.scratch, 16), "cudaMalloc"));
  RINGLAB_RETURN_IF_ERROR(cuda(cudaMemset(r.scratch, 0, 16), "cudaMemset"));
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
  Shared shared;
  std::vector<std::unique_ptr<Rank>> ranks;
  std::thread watchdog;
  std::atomic<bool> stop{false};
  std::atomic<int> active{0};
  bool broken = false;

  ~Impl() {
    stop = true;
    if (watchdog.joinable()) watchdog.join();
    if (broken) return;  // after a failure nothing on the devices is trusted: leave it to process exit
    for (auto& r : ranks) {
      if (r->comm) {
        cudaSetDevice(r->device);
        ncclCommDestroy(r->comm);
      }
      DestroyRankResources(*r);
    }
  }

  void Watch() {
    int64_t failed_at = 0;
    while (!stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const int64_t now = NowNs();
      for (auto& r : ranks) {
        if (r->comm && !shared.aborted && !r->comm_aborted) {
          ncclResult_t res = ncclSuccess;
          if (ncclCommGetAsyncError(r->comm, &res) == ncclSuccess && res != ncclSuccess && res != ncclInProgress)
            shared.Fail("rank " + std::to_string(r->rank) + ": NCCL reported an asynchronous error: " +
                        ncclGetErrorString(res));
        }
        const int64_t since = r->busy_since_ns;
        if (since && !shared.aborted && double(now - since) * 1e-9 > launch.timeout_s)
          shared.Fail("rank " + std::to_string(r->rank) + ": no progress for " + std::to_string(int(launch.timeout_s)) +
                      " s while " + r->busy_what.load() + " (a peer rank may have failed or stopped)");
      }
      if (!shared.aborted && !shared.abort_file.empty() && access(shared.abort_file.c_str(), F_OK) == 0) {
        std::ifstream f(shared.abort_file);
        std::string line;
        std::getline(f, line);
        if (!shared.aborted) {
          std::lock_guard lock(shared.mu);
          shared.message = "a peer process failed: " + line;
          shared.aborted = true;
        }
      }
      if (shared.aborted && active > 0) {
        if (!failed_at) failed_at = now;
        // A rank blocked inside NCCL (a connection to a peer that will never come) is released by aborting its
        // communicator from here, as NCCL intends; the join in OnRanks then skips it.
        if (double(now - failed_at) * 1e-9 > 1.0)
          for (auto& r : ranks) {
            ncclComm_t c = r->comm;
            if (c && r->busy_since_ns != 0 && !r->comm_aborted.exchange(true)) ncclCommAbort(c);
          }
        if (double(now - failed_at) * 1e-9 > kGraceS) {
          std::fprintf(stderr, "ringlab: error: %s (ranks still blocked %.0f s after the abort; exiting)\n",
                       shared.Message().c_str(), kGraceS);
          std::fflush(stderr);
          std::_Exit(3);
        }
      }
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
  auto impl = std::make_unique<Impl>();
  impl->launch = launch;
  impl->shared.timeout_s = launch.timeout_s;
  for (size_t i = 0; i < launch.devices.size(); ++i) {
    auto r = std::make_unique<Rank>();
    r->rank = launch.rank_offset + int(i);
    r->device = launch.devices[i];
    RINGLAB_RETURN_IF_ERROR(CreateRankResources(*r));
    impl->ranks.push_back(std::move(r));
  }
  Impl* ip = impl.get();
  impl->watchdog = std::thread([ip] { ip->Watch(); });
  if (launch.world > 1) {
    ncclUniqueId id;
    static_assert(sizeof(id) == kNcclIdBytes);
    const bool root = launch.rank_offset == 0;
    if (root) {
      const ncclResult_t res = ncclGetUniqueId(&id);
      if (res != ncclSuccess) return Status::Unavailable(std::string("ncclGetUniqueId: ") + ncclGetErrorString(res));
    }
    if (launch.MultiProcess()) {
      if (!launch.nccl_id_file.empty()) {
        RINGLAB_RETURN_IF_ERROR(ExchangeIdFile(root, launch.nccl_id_file, id.internal, launch.timeout_s));
        impl->shared.abort_file = launch.nccl_id_file + ".abort";
      } else if (!launch.master_addr.empty()) {
        RINGLAB_RETURN_IF_ERROR(
            ExchangeIdTcp(root, launch.master_addr, launch.master_port, launch.world, id.internal, launch.timeout_s));
      } else {
        return Status::InvalidArgument(
            "a multi-process run needs --nccl-id-file FILE or MASTER_ADDR and MASTER_PORT to exchange the NCCL id");
      }
    }
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
  if (p.head_dim != 64 && p.head_dim != 128)
    return Status::InvalidArgument("--dim " + std::to_string(p.head_dim) + ": the CUDA kernels support 64 or 128");
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
          .bwd = request.backward ? &bwd : nullptr, .fault = FaultFromEnv()};
  std::vector<Rank*> rs;
  for (auto& r : im.ranks) rs.push_back(r.get());
  return im.OnRanks(rs, [&](Rank& r) { return RankRunner(r, job, im.shared).Main(result); });
}

Status GpuExecutor::RunSingle(const RunRequest& request, const InputSource& inputs, RunResult* result) {
  Impl& im = *impl_;
  if (im.broken) return Status::Internal("the GPU executor is unusable after an earlier failure");
  RunRequest req = request;
  req.config.world = 1;
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

namespace ringlab::gpu {
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
