#include "kernels/cpu/cpu_executor.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "kernels/cpu/block_attention.h"

namespace ringlab::cpu {
namespace {

using Clock = std::chrono::steady_clock;

// Thrown inside a rank thread to unwind it; turned into the run's Status.
struct Abort {
  std::string message;
};

template <typename T>
class CpuRun {
 public:
  CpuRun(const Schedule& schedule, const ExecutorOptions& options)
      : sch_(schedule),
        cfg_(schedule.config),
        p_(cfg_.problem),
        sh_(cfg_.sharding, cfg_.world, cfg_.problem.seq),
        w_(cfg_.world),
        s_(sh_.ShardTokens()),
        options_(options),
        ranks_(w_) {
    for (auto& r : ranks_) r = std::make_unique<RankState>();
  }

  Status Run(const GlobalInputs& in, const ForwardOutputs* fwd, Trace* trace);
  std::vector<T>& Buffer(int rank, BufferKind kind, int slot = 0) { return ranks_[rank]->buffers[{int(kind), slot}]; }
  const Sharding& sharding() const { return sh_; }

 private:
  struct RankState {
    std::map<std::pair<int, int>, std::vector<T>> buffers;
    std::vector<uint8_t> done;
    std::mutex mu;
    std::condition_variable cv;
  };
  struct Collective {
    std::vector<std::vector<T>> deposits;
    int deposited = 0, finished = 0;
  };

  int64_t QRows() const { return int64_t(p_.batch) * p_.heads; }     // query-head rows of [B][H]
  int64_t KvRows() const { return int64_t(p_.batch) * p_.kv_heads; }  // kv-head rows of [B][Hkv]
  int64_t KvHalf() const { return KvRows() * s_ * p_.head_dim; }      // elements of K (or V) in one shard
  int64_t Elements(BufferKind k) const;

  void InitBuffers(int rank, const GlobalInputs& in, const ForwardOutputs* fwd);
  void RunStream(int rank, StreamKind stream);
  void Execute(int rank, const Op& op);
  void Attend(int rank, const Op& op);
  void Merge(int rank, const Op& op);
  void Send(int rank, const Op& op);
  void Recv(int rank, const Op& op);
  void AllGather(int rank, const Op& op);
  void ReduceScatter(int rank, const Op& op);
  // Deposits the op's input for collective `op.tag` and waits until every rank has deposited.
  Collective& Deposit(int rank, const Op& op, std::unique_lock<std::mutex>& lock, const char* what);
  template <typename Pred>
  void WaitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Pred pred, const std::string& what);
  void Fail(const std::string& message);

  // Copies token rows [begin, end) of every head out of a [heads][tokens][dim] tensor into a contiguous block.
  static std::vector<T> Rows(const T* src, int64_t heads, int64_t tokens, int64_t dim, int64_t begin, int64_t end);
  static void PutRows(const std::vector<T>& block, T* dst, int64_t heads, int64_t tokens, int64_t dim, int64_t begin,
                      int64_t end);
  // The K/V shard an attend op reads: base pointer of K; V follows KvHalf() later.
  const T* KvBase(int rank, const Op& op);

  const Schedule& sch_;
  const ScheduleConfig& cfg_;
  const Problem& p_;
  Sharding sh_;
  int w_;
  int64_t s_;
  ExecutorOptions options_;
  std::vector<std::unique_ptr<RankState>> ranks_;
  std::mutex mail_mu_;
  std::condition_variable mail_cv_;
  std::map<std::tuple<int, int, int>, std::vector<T>> mailbox_;
  std::map<int, Collective> collectives_;
  std::atomic<bool> aborted_{false};
  std::string error_;
  std::mutex trace_mu_;
  std::vector<TraceEvent> events_;
  Clock::time_point t0_;
};

template <typename T>
int64_t CpuRun<T>::Elements(BufferKind k) const {
  const int64_t q = QRows() * s_ * p_.head_dim, rows = QRows() * s_, kv = 2 * KvHalf();
  switch (k) {
    case BufferKind::kQ: case BufferKind::kOut: case BufferKind::kOutPart: case BufferKind::kDOut:
    case BufferKind::kDQ: return q;
    case BufferKind::kLse: case BufferKind::kLsePart: case BufferKind::kDelta: return rows;
    case BufferKind::kKV: case BufferKind::kKVRing: case BufferKind::kKVPack: case BufferKind::kDKVPart:
    case BufferKind::kDKVRing: case BufferKind::kDKV: return kv;
    case BufferKind::kKVGathered: case BufferKind::kDKVGathered: return kv * w_;
  }
  return 0;
}

template <typename T>
std::vector<T> CpuRun<T>::Rows(const T* src, int64_t heads, int64_t tokens, int64_t dim, int64_t begin, int64_t end) {
  const int64_t n = end - begin;
  std::vector<T> out(heads * n * dim);
  for (int64_t h = 0; h < heads; ++h)
    std::copy(src + (h * tokens + begin) * dim, src + (h * tokens + end) * dim, out.data() + h * n * dim);
  return out;
}

template <typename T>
void CpuRun<T>::PutRows(const std::vector<T>& block, T* dst, int64_t heads, int64_t tokens, int64_t dim,
                        int64_t begin, int64_t end) {
  const int64_t n = end - begin;
  for (int64_t h = 0; h < heads; ++h)
    std::copy(block.data() + h * n * dim, block.data() + (h + 1) * n * dim, dst + (h * tokens + begin) * dim);
}

template <typename T>
void CpuRun<T>::InitBuffers(int rank, const GlobalInputs& in, const ForwardOutputs* fwd) {
  const int64_t d = p_.head_dim;
  auto shard = [&](const std::vector<double>& global, int64_t outer, int64_t inner) {
    std::vector<double> x = sh_.Shard(global, outer, inner, rank);
    return std::vector<T>(x.begin(), x.end());
  };
  for (const BufferInfo& info : sch_.ranks[rank].buffers) {
    std::vector<T>& buf = Buffer(rank, info.ref.kind, info.ref.slot);
    const int64_t n = Elements(info.ref.kind);
    switch (info.init) {
      case BufferInit::kZero: buf.assign(n, T(0)); break;
      case BufferInit::kNegInf: buf.assign(n, -std::numeric_limits<T>::infinity()); break;
      case BufferInit::kNone: buf.assign(n, std::numeric_limits<T>::quiet_NaN()); break;  // poison
      case BufferInit::kInput:
        switch (info.ref.kind) {
          case BufferKind::kQ: buf = shard(in.q, QRows(), d); break;
          case BufferKind::kDOut: buf = shard(in.dout, QRows(), d); break;
          case BufferKind::kOut: buf = shard(fwd->out, QRows(), d); break;
          case BufferKind::kLse: buf = shard(fwd->lse, QRows(), 1); break;
          case BufferKind::kKV: {
            buf = shard(in.k, KvRows(), d);
            std::vector<T> v = shard(in.v, KvRows(), d);
            buf.insert(buf.end(), v.begin(), v.end());
            break;
          }
          default: throw Abort{"buffer " + BufferRefName(info.ref) + " has no input to fill it"};
        }
        break;
    }
  }
  ranks_[rank]->done.assign(sch_.ranks[rank].ops.size(), 0);
}

template <typename T>
void CpuRun<T>::Fail(const std::string& message) {
  bool expected = false;
  if (aborted_.compare_exchange_strong(expected, true)) error_ = message;
  mail_cv_.notify_all();
  for (auto& r : ranks_) r->cv.notify_all();
}

template <typename T>
template <typename Pred>
void CpuRun<T>::WaitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Pred pred,
                        const std::string& what) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(options_.timeout_s);
  while (!pred()) {
    if (aborted_) throw Abort{""};
    if (cv.wait_until(lock, deadline) == std::cv_status::timeout && !pred())
      throw Abort{what + " timed out after " + std::to_string(options_.timeout_s) + " s"};
  }
}

template <typename T>
const T* CpuRun<T>::KvBase(int rank, const Op& op) {
  for (const BufferRef& b : op.reads) {
    if (b.kind == BufferKind::kKV || b.kind == BufferKind::kKVRing) return Buffer(rank, b.kind, b.slot).data();
    if (b.kind == BufferKind::kKVGathered)
      return Buffer(rank, b.kind, b.slot).data() + 2 * KvHalf() * op.attend.kv_origin;
  }
  throw Abort{"attend op " + std::to_string(op.id) + " reads no K/V buffer"};
}

template <typename T>
void CpuRun<T>::Attend(int rank, const Op& op) {
  const AttendBlock& b = op.attend;
  const int64_t d = p_.head_dim, nq = b.QTokens(), nk = b.KvTokens();
  const AttentionShape shape{.batch = p_.batch, .heads = p_.heads, .kv_heads = p_.kv_heads, .q_tokens = nq,
                             .kv_tokens = nk, .head_dim = p_.head_dim};
  const MaskSpec mask{.causal = b.causal, .diagonal_offset = b.diagonal_offset};
  const T* kv = KvBase(rank, op);
  const std::vector<T> q = Rows(Buffer(rank, BufferKind::kQ).data(), QRows(), s_, d, b.q_begin, b.q_end);
  const std::vector<T> k = Rows(kv, KvRows(), s_, d, b.kv_begin, b.kv_end);
  const std::vector<T> v = Rows(kv + KvHalf(), KvRows(), s_, d, b.kv_begin, b.kv_end);
  if (cfg_.pass == Pass::kForward) {
    std::vector<T> out(QRows() * nq * d), lse(QRows() * nq);
    BlockForward<T>(shape, mask, q.data(), k.data(), v.data(), out.data(), lse.data());
    const bool part = op.writes[0].kind == BufferKind::kOutPart;
    std::vector<T>& acc_out = Buffer(rank, part ? BufferKind::kOutPart : BufferKind::kOut);
    std::vector<T>& acc_lse = Buffer(rank, part ? BufferKind::kLsePart : BufferKind::kLse);
    if (b.merge && !part) {
      std::vector<T> ao = Rows(acc_out.data(), QRows(), s_, d, b.q_begin, b.q_end);
      std::vector<T> al = Rows(acc_lse.data(), QRows(), s_, 1, b.q_begin, b.q_end);
      MergeRows<T>(QRows() * nq, int(d), out.data(), lse.data(), ao.data(), al.data());
      out.swap(ao);
      lse.swap(al);
    }
    PutRows(out, acc_out.data(), QRows(), s_, d, b.q_begin, b.q_end);
    PutRows(lse, acc_lse.data(), QRows(), s_, 1, b.q_begin, b.q_end);
    return;
  }
  // Backward: dq accumulates; the origin's dK/dV shard := this block's gradient, zero outside its key rows.
  const std::vector<T> dout = Rows(Buffer(rank, BufferKind::kDOut).data(), QRows(), s_, d, b.q_begin, b.q_end);
  const std::vector<T> lse = Rows(Buffer(rank, BufferKind::kLse).data(), QRows(), s_, 1, b.q_begin, b.q_end);
  const std::vector<T> delta = Rows(Buffer(rank, BufferKind::kDelta).data(), QRows(), s_, 1, b.q_begin, b.q_end);
  std::vector<T>& dq_acc = Buffer(rank, BufferKind::kDQ);
  std::vector<T> dq = Rows(dq_acc.data(), QRows(), s_, d, b.q_begin, b.q_end);
  std::vector<T> dk(KvRows() * nk * d), dv(KvRows() * nk * d);
  BlockBackward<T>(shape, mask, q.data(), k.data(), v.data(), dout.data(), lse.data(), delta.data(), dq.data(),
                   dk.data(), dv.data());
  PutRows(dq, dq_acc.data(), QRows(), s_, d, b.q_begin, b.q_end);
  const BufferRef target = op.writes[1];
  T* base = Buffer(rank, target.kind, target.slot).data();
  if (target.kind == BufferKind::kDKVGathered) base += 2 * KvHalf() * b.kv_origin;
  std::fill(base, base + 2 * KvHalf(), T(0));
  PutRows(dk, base, KvRows(), s_, d, b.kv_begin, b.kv_end);
  PutRows(dv, base + KvHalf(), KvRows(), s_, d, b.kv_begin, b.kv_end);
}

template <typename T>
void CpuRun<T>::Merge(int rank, const Op& op) {
  if (cfg_.pass == Pass::kBackward) {  // travelling dK/dV += this step's part
    const std::vector<T>& part = Buffer(rank, op.reads[0].kind, op.reads[0].slot);
    std::vector<T>& acc = Buffer(rank, op.writes[0].kind, op.writes[0].slot);
    for (size_t i = 0; i < acc.size(); ++i) acc[i] += part[i];
    return;
  }
  const AttendBlock& b = op.attend;
  const int64_t d = p_.head_dim, nq = b.QTokens();
  std::vector<T>& out = Buffer(rank, BufferKind::kOut);
  std::vector<T>& lse = Buffer(rank, BufferKind::kLse);
  std::vector<T> po = Rows(Buffer(rank, BufferKind::kOutPart).data(), QRows(), s_, d, b.q_begin, b.q_end);
  std::vector<T> pl = Rows(Buffer(rank, BufferKind::kLsePart).data(), QRows(), s_, 1, b.q_begin, b.q_end);
  std::vector<T> ao = Rows(out.data(), QRows(), s_, d, b.q_begin, b.q_end);
  std::vector<T> al = Rows(lse.data(), QRows(), s_, 1, b.q_begin, b.q_end);
  MergeRows<T>(QRows() * nq, int(d), po.data(), pl.data(), ao.data(), al.data());
  PutRows(ao, out.data(), QRows(), s_, d, b.q_begin, b.q_end);
  PutRows(al, lse.data(), QRows(), s_, 1, b.q_begin, b.q_end);
}

template <typename T>
void CpuRun<T>::Send(int rank, const Op& op) {
  std::vector<T> copy = Buffer(rank, op.reads[0].kind, op.reads[0].slot);
  std::lock_guard lock(mail_mu_);
  mailbox_[{rank, op.peer, op.tag}] = std::move(copy);
  mail_cv_.notify_all();
}

template <typename T>
void CpuRun<T>::Recv(int rank, const Op& op) {
  std::unique_lock lock(mail_mu_);
  const auto key = std::make_tuple(op.peer, rank, op.tag);
  WaitFor(lock, mail_cv_, [&] { return mailbox_.count(key) > 0; },
          "rank " + std::to_string(rank) + " waiting for tag " + std::to_string(op.tag) + " from rank " +
              std::to_string(op.peer));
  std::vector<T>& dst = Buffer(rank, op.writes[0].kind, op.writes[0].slot);
  if (mailbox_[key].size() != dst.size()) throw Abort{"message size differs from the receive buffer"};
  dst = std::move(mailbox_[key]);
  mailbox_.erase(key);
}

template <typename T>
typename CpuRun<T>::Collective& CpuRun<T>::Deposit(int rank, const Op& op, std::unique_lock<std::mutex>& lock,
                                                  const char* what) {
  Collective& c = collectives_[op.tag];
  if (c.deposits.empty()) c.deposits.resize(w_);
  c.deposits[rank] = Buffer(rank, op.reads[0].kind, op.reads[0].slot);
  ++c.deposited;
  mail_cv_.notify_all();
  WaitFor(lock, mail_cv_, [&] { return c.deposited == w_; }, "rank " + std::to_string(rank) + " in " + what);
  return c;
}

template <typename T>
void CpuRun<T>::AllGather(int rank, const Op& op) {
  std::unique_lock lock(mail_mu_);
  Collective& c = Deposit(rank, op, lock, "all-gather");
  std::vector<T>& dst = Buffer(rank, op.writes[0].kind, op.writes[0].slot);
  for (int o = 0; o < w_; ++o) std::copy(c.deposits[o].begin(), c.deposits[o].end(), dst.begin() + o * 2 * KvHalf());
  if (++c.finished == w_) collectives_.erase(op.tag);
}

template <typename T>
void CpuRun<T>::ReduceScatter(int rank, const Op& op) {
  std::unique_lock lock(mail_mu_);
  Collective& c = Deposit(rank, op, lock, "reduce-scatter");
  std::vector<T>& dst = Buffer(rank, op.writes[0].kind, op.writes[0].slot);
  const int64_t n = 2 * KvHalf();
  std::fill(dst.begin(), dst.end(), T(0));
  for (int o = 0; o < w_; ++o)
    for (int64_t i = 0; i < n; ++i) dst[i] += c.deposits[o][rank * n + i];
  if (++c.finished == w_) collectives_.erase(op.tag);
}

template <typename T>
void CpuRun<T>::Execute(int rank, const Op& op) {
  switch (op.kind) {
    case OpKind::kAttend: Attend(rank, op); break;
    case OpKind::kMerge: Merge(rank, op); break;
    case OpKind::kCopy:
      Buffer(rank, op.writes[0].kind, op.writes[0].slot) = Buffer(rank, op.reads[0].kind, op.reads[0].slot);
      break;
    case OpKind::kPrepare:
      RowDot<T>(QRows() * s_, p_.head_dim, Buffer(rank, BufferKind::kDOut).data(), Buffer(rank, BufferKind::kOut).data(),
                Buffer(rank, BufferKind::kDelta).data());
      break;
    case OpKind::kSend: Send(rank, op); break;
    case OpKind::kRecv: Recv(rank, op); break;
    case OpKind::kAllGather: AllGather(rank, op); break;
    case OpKind::kReduceScatter: ReduceScatter(rank, op); break;
  }
}

template <typename T>
void CpuRun<T>::RunStream(int rank, StreamKind stream) {
  RankState& st = *ranks_[rank];
  const std::vector<Op>& ops = sch_.ranks[rank].ops;
  try {
    for (size_t i = 0; i < ops.size(); ++i) {
      const Op& op = ops[i];
      if (op.stream != stream) continue;
      // Group members are posted together: execute a group's sends before its receives (sends are buffered).
      if (op.kind == OpKind::kRecv && op.group >= 0)
        for (size_t j = i + 1; j < ops.size() && ops[j].group == op.group; ++j)
          if (ops[j].kind == OpKind::kSend) throw Abort{"group lists a receive before its send"};
      {
        std::unique_lock lock(st.mu);
        WaitFor(lock, st.cv, [&] {
          for (int32_t d : op.deps) if (!st.done[d]) return false;
          return true;
        }, "rank " + std::to_string(rank) + " op " + std::to_string(op.id) + " waiting for its dependencies");
      }
      const double start = std::chrono::duration<double, std::micro>(Clock::now() - t0_).count();
      Execute(rank, op);
      const double end = std::chrono::duration<double, std::micro>(Clock::now() - t0_).count();
      {
        std::lock_guard lock(trace_mu_);
        TraceEvent e = EventFor(rank, op);
        e.ts_us = start;
        e.dur_us = end - start;
        events_.push_back(e);
      }
      std::lock_guard lock(st.mu);
      st.done[op.id] = 1;
      st.cv.notify_all();
    }
  } catch (const Abort& a) {
    if (!a.message.empty()) Fail(a.message);
    else Fail("aborted");
  } catch (const std::exception& e) {
    Fail(std::string("rank ") + std::to_string(rank) + ": " + e.what());
  }
}

template <typename T>
Status CpuRun<T>::Run(const GlobalInputs& in, const ForwardOutputs* fwd, Trace* trace) {
  try {
    for (int r = 0; r < w_; ++r) InitBuffers(r, in, fwd);
  } catch (const Abort& a) {
    return Status::InvalidArgument(a.message);
  }
  t0_ = Clock::now();
  std::vector<std::thread> threads;
  for (int r = 0; r < w_; ++r)
    for (int s = 0; s < kStreamCount; ++s) threads.emplace_back([this, r, s] { RunStream(r, StreamKind(s)); });
  for (auto& t : threads) t.join();
  if (aborted_) return Status::Internal("cpu executor: " + error_);
  if (trace) {
    std::sort(events_.begin(), events_.end(), [](const TraceEvent& a, const TraceEvent& b) {
      return std::tie(a.rank, a.ts_us, a.op) < std::tie(b.rank, b.ts_us, b.op);
    });
    trace->meta = TraceMeta{.source = "cpu", .config = cfg_, .hardware = "cpu threads",
                            .schedule_op_count = sch_.OpCount()};
    trace->events = std::move(events_);
  }
  return Status::Ok();
}

template <typename T>
std::vector<double> Unshard(CpuRun<T>& run, int world, BufferKind kind, int64_t outer, int64_t inner,
                            int64_t offset, int64_t count) {
  std::vector<std::vector<double>> shards(world);
  for (int r = 0; r < world; ++r) {
    const std::vector<T>& b = run.Buffer(r, kind);
    shards[r].assign(b.begin() + offset, b.begin() + offset + count);
  }
  return run.sharding().Unshard(shards, outer, inner);
}

template <typename T>
Status Forward(const Schedule& schedule, const GlobalInputs& in, const ExecutorOptions& options, ForwardOutputs* out,
               Trace* trace) {
  CpuRun<T> run(schedule, options);
  RINGLAB_RETURN_IF_ERROR(run.Run(in, nullptr, trace));
  const Problem& p = schedule.config.problem;
  const int64_t rows = int64_t(p.batch) * p.heads, s = run.sharding().ShardTokens();
  out->out = Unshard(run, schedule.config.world, BufferKind::kOut, rows, p.head_dim, 0, rows * s * p.head_dim);
  out->lse = Unshard(run, schedule.config.world, BufferKind::kLse, rows, 1, 0, rows * s);
  return Status::Ok();
}

template <typename T>
Status Backward(const Schedule& schedule, const GlobalInputs& in, const ForwardOutputs& fwd,
                const ExecutorOptions& options, BackwardOutputs* out, Trace* trace) {
  CpuRun<T> run(schedule, options);
  RINGLAB_RETURN_IF_ERROR(run.Run(in, &fwd, trace));
  const Problem& p = schedule.config.problem;
  const int w = schedule.config.world;
  const int64_t rows = int64_t(p.batch) * p.heads, kv_rows = int64_t(p.batch) * p.kv_heads;
  const int64_t s = run.sharding().ShardTokens(), half = kv_rows * s * p.head_dim;
  out->dq = Unshard(run, w, BufferKind::kDQ, rows, p.head_dim, 0, rows * s * p.head_dim);
  out->dk = Unshard(run, w, BufferKind::kDKV, kv_rows, p.head_dim, 0, half);
  out->dv = Unshard(run, w, BufferKind::kDKV, kv_rows, p.head_dim, half, half);
  return Status::Ok();
}

Status CheckInputs(const Schedule& schedule, const GlobalInputs& in, Pass pass) {
  const Problem& p = schedule.config.problem;
  if (schedule.config.pass != pass)
    return Status::InvalidArgument("schedule is a " + std::string(PassName(schedule.config.pass)) +
                                   " schedule, expected " + std::string(PassName(pass)));
  const size_t q = size_t(p.batch) * p.heads * p.seq * p.head_dim, kv = size_t(p.batch) * p.kv_heads * p.seq * p.head_dim;
  if (in.q.size() != q || in.k.size() != kv || in.v.size() != kv || (pass == Pass::kBackward && in.dout.size() != q))
    return Status::InvalidArgument("input tensors do not match the problem's shapes");
  return Status::Ok();
}

}  // namespace

GlobalInputs RandomInputs(const Problem& p, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  auto fill = [&](size_t n) {
    std::vector<double> v(n);
    for (double& x : v) x = u(rng);
    return v;
  };
  const size_t q = size_t(p.batch) * p.heads * p.seq * p.head_dim, kv = size_t(p.batch) * p.kv_heads * p.seq * p.head_dim;
  GlobalInputs in;
  in.q = fill(q);
  in.k = fill(kv);
  in.v = fill(kv);
  in.dout = fill(q);
  return in;
}

Status ExecuteForward(const Schedule& schedule, const GlobalInputs& in, const ExecutorOptions& options,
                      ForwardOutputs* out, Trace* trace) {
  RINGLAB_RETURN_IF_ERROR(CheckInputs(schedule, in, Pass::kForward));
  return options.precision == Precision::kFloat64 ? Forward<double>(schedule, in, options, out, trace)
                                                  : Forward<float>(schedule, in, options, out, trace);
}

Status ExecuteBackward(const Schedule& schedule, const GlobalInputs& in, const ForwardOutputs& fwd,
                       const ExecutorOptions& options, BackwardOutputs* out, Trace* trace) {
  RINGLAB_RETURN_IF_ERROR(CheckInputs(schedule, in, Pass::kBackward));
  return options.precision == Precision::kFloat64 ? Backward<double>(schedule, in, fwd, options, out, trace)
                                                  : Backward<float>(schedule, in, fwd, options, out, trace);
}

}  // namespace ringlab::cpu
