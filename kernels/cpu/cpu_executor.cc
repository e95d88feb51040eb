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

#include "core/ulysses_layout.h"
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
        mask_(p_.AttentionMask()),
        layout_(cfg_),
        local_(layout_.LocalProblem()),
        w_(cfg_.world),
        s_(layout_.RingShardTokens()),
        piece_(layout_.PieceTokens()),
        options_(options),
        ranks_(w_) {
    for (auto& r : ranks_) r = std::make_unique<RankState>();
  }

  Status Run(const GlobalInputs& in, const ForwardOutputs* fwd, Trace* trace);
  std::vector<T>& Buffer(int rank, BufferKind kind, int slot = 0) { return ranks_[rank]->buffers[{int(kind), slot}]; }
  std::vector<T>& Buffer(int rank, BufferRef ref) { return Buffer(rank, ref.kind, ref.slot); }
  const UlyssesLayout& layout() const { return layout_; }

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

  // Attention operands and ring buffers hold the rank's heads over the ring shard (s_ tokens); with ulysses > 1 the
  // sequence-sharded inputs and outputs hold every head over the rank's piece (piece_ tokens).
  int64_t QRows() const { return int64_t(local_.batch) * local_.heads; }     // query-head rows of [B][H/U]
  int64_t KvRows() const { return int64_t(local_.batch) * local_.kv_heads; }  // kv-head rows of [B][Hkv/U]
  int64_t KvHalf() const { return KvRows() * s_ * p_.head_dim; }            // elements of K (or V) in one shard
  bool PieceSharded(BufferKind k) const { return layout_.Ulysses() > 1 && HeadShardedOf(k).has_value(); }
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
  void AllToAll(int rank, const Op& op);
  // Deposits the op's input for its collective (kind, communicator, tag) and waits until every member has deposited;
  // deposits are indexed by member (ring position, or Ulysses index for all-to-all).
  Collective& Deposit(int rank, const Op& op, std::unique_lock<std::mutex>& lock, const char* what);
  void Finish(int rank, const Op& op, Collective& c);
  std::tuple<int, int, int> CollectiveKey(int rank, const Op& op) const {
    return {int(op.kind), CollectiveGroup(cfg_, rank, op.kind).first, op.tag};
  }
  int MemberIndex(int rank, OpKind kind) const {
    return kind == OpKind::kAllToAll ? layout_.UlyssesIndex(rank) : layout_.RingIndex(rank);
  }
  template <typename Pred>
  void WaitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, Pred pred, const std::string& what,
               double timeout_s);
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
  const Mask mask_;  // the problem's window/document mask, for masked blocks
  UlyssesLayout layout_;
  Problem local_;  // the heads one rank attends with (all of them when ulysses = 1)
  int w_;
  int64_t s_, piece_;
  ExecutorOptions options_;
  std::atomic<int64_t> ops_done_{0};
  std::vector<std::unique_ptr<RankState>> ranks_;
  std::mutex mail_mu_;
  std::condition_variable mail_cv_;
  std::map<std::tuple<int, int, int>, std::vector<T>> mailbox_;
  std::map<std::tuple<int, int, int>, Collective> collectives_;
  std::atomic<bool> aborted_{false};
  std::string error_;
  std::mutex trace_mu_;
  std::vector<TraceEvent> events_;
  Clock::time_point t0_;
};

template <typename T>
int64_t CpuRun<T>::Elements(BufferKind k) const {
  if (PieceSharded(k)) {
    const int64_t rows = int64_t(p_.batch) * p_.heads * piece_;
    const int64_t kv = 2 * int64_t(p_.batch) * p_.kv_heads * piece_ * p_.head_dim;
    if (k == BufferKind::kKV || k == BufferKind::kDKV) return kv;
    return k == BufferKind::kLse || k == BufferKind::kDelta ? rows : rows * p_.head_dim;
  }
  const int64_t q = QRows() * s_ * p_.head_dim, rows = QRows() * s_, kv = 2 * KvHalf();
  switch (k) {
    case BufferKind::kQ: case BufferKind::kOut: case BufferKind::kOutPart: case BufferKind::kDOut:
    case BufferKind::kDQ: case BufferKind::kQHeads: case BufferKind::kOutHeads: case BufferKind::kDOutHeads:
    case BufferKind::kDQHeads: return q;
    case BufferKind::kLse: case BufferKind::kLsePart: case BufferKind::kDelta: case BufferKind::kLseHeads:
    case BufferKind::kDeltaHeads: return rows;
    case BufferKind::kKV: case BufferKind::kKVRing: case BufferKind::kKVPack: case BufferKind::kDKVPart:
    case BufferKind::kDKVRing: case BufferKind::kDKV: case BufferKind::kKVHeads: case BufferKind::kDKVHeads: return kv;
    case BufferKind::kKVGathered: case BufferKind::kDKVGathered: return kv * layout_.Ring();
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
  const int64_t q_rows = int64_t(p_.batch) * p_.heads, kv_rows = int64_t(p_.batch) * p_.kv_heads;
  auto shard = [&](const std::vector<double>& global, int64_t outer, int64_t inner) {
    std::vector<double> x = layout_.Shard(global, outer, inner, rank);
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
          case BufferKind::kQ: buf = shard(in.q, q_rows, d); break;
          case BufferKind::kDOut: buf = shard(in.dout, q_rows, d); break;
          case BufferKind::kOut: buf = shard(fwd->out, q_rows, d); break;
          case BufferKind::kLse: buf = shard(fwd->lse, q_rows, 1); break;
          case BufferKind::kKV: {
            buf = shard(in.k, kv_rows, d);
            std::vector<T> v = shard(in.v, kv_rows, d);
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
                        const std::string& what, double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (!pred()) {
    if (aborted_) throw Abort{""};
    if (cv.wait_until(lock, deadline) == std::cv_status::timeout && !pred())
      throw Abort{what + " timed out after " + std::to_string(timeout_s) + " s"};
  }
}

template <typename T>
const T* CpuRun<T>::KvBase(int rank, const Op& op) {
  for (const BufferRef& b : op.reads) {
    if (b.kind == BufferKind::kKV || b.kind == BufferKind::kKVRing || b.kind == BufferKind::kKVHeads)
      return Buffer(rank, b.kind, b.slot).data();
    if (b.kind == BufferKind::kKVGathered)
      return Buffer(rank, b.kind, b.slot).data() + 2 * KvHalf() * op.attend.kv_origin;
  }
  throw Abort{"attend op " + std::to_string(op.id) + " reads no K/V buffer"};
}

template <typename T>
void CpuRun<T>::Attend(int rank, const Op& op) {
  const AttendBlock& b = op.attend;
  const int64_t d = p_.head_dim, nq = b.QTokens(), nk = b.KvTokens();
  // Operands by position (see schedule_builder.cc): forward reads q, kv[, out, lse] and writes out, lse (or the
  // parts); backward reads q, dout, lse, delta, dq, kv and writes dq, dkv.
  const AttentionShape shape{.batch = local_.batch, .heads = local_.heads, .kv_heads = local_.kv_heads,
                             .q_tokens = nq, .kv_tokens = nk, .head_dim = p_.head_dim};
  const MaskSpec mask{.causal = b.causal, .diagonal_offset = b.diagonal_offset,
                      .general = b.masked ? &mask_ : nullptr, .q_global = b.q_global, .kv_global = b.kv_global};
  const T* kv = KvBase(rank, op);
  const std::vector<T> q = Rows(Buffer(rank, op.reads[0]).data(), QRows(), s_, d, b.q_begin, b.q_end);
  const std::vector<T> k = Rows(kv, KvRows(), s_, d, b.kv_begin, b.kv_end);
  const std::vector<T> v = Rows(kv + KvHalf(), KvRows(), s_, d, b.kv_begin, b.kv_end);
  if (cfg_.pass == Pass::kForward) {
    std::vector<T> out(QRows() * nq * d), lse(QRows() * nq);
    BlockForward<T>(shape, mask, q.data(), k.data(), v.data(), out.data(), lse.data());
    const bool part = op.writes[0].kind == BufferKind::kOutPart;
    std::vector<T>& acc_out = Buffer(rank, op.writes[0]);
    std::vector<T>& acc_lse = Buffer(rank, op.writes[1]);
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
  // Backward: dq accumulates; the origin's dK/dV shard := this block's gradient, zero outside its key rows (merge:
  // += this block's gradient, other rows kept).
  const std::vector<T> dout = Rows(Buffer(rank, op.reads[1]).data(), QRows(), s_, d, b.q_begin, b.q_end);
  const std::vector<T> lse = Rows(Buffer(rank, op.reads[2]).data(), QRows(), s_, 1, b.q_begin, b.q_end);
  const std::vector<T> delta = Rows(Buffer(rank, op.reads[3]).data(), QRows(), s_, 1, b.q_begin, b.q_end);
  std::vector<T>& dq_acc = Buffer(rank, op.writes[0]);
  std::vector<T> dq = Rows(dq_acc.data(), QRows(), s_, d, b.q_begin, b.q_end);
  std::vector<T> dk(KvRows() * nk * d), dv(KvRows() * nk * d);
  BlockBackward<T>(shape, mask, q.data(), k.data(), v.data(), dout.data(), lse.data(), delta.data(), dq.data(),
                   dk.data(), dv.data());
  PutRows(dq, dq_acc.data(), QRows(), s_, d, b.q_begin, b.q_end);
  const BufferRef target = op.writes[1];
  T* base = Buffer(rank, target.kind, target.slot).data();
  if (target.kind == BufferKind::kDKVGathered) base += 2 * KvHalf() * b.kv_origin;
  if (b.merge) {
    const std::vector<T> old_k = Rows(base, KvRows(), s_, d, b.kv_begin, b.kv_end);
    const std::vector<T> old_v = Rows(base + KvHalf(), KvRows(), s_, d, b.kv_begin, b.kv_end);
    for (size_t i = 0; i < dk.size(); ++i) dk[i] += old_k[i], dv[i] += old_v[i];
  } else {
    std::fill(base, base + 2 * KvHalf(), T(0));
  }
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
  // Reads out_part, lse_part, out, lse; writes out, lse.
  std::vector<T>& out = Buffer(rank, op.writes[0]);
  std::vector<T>& lse = Buffer(rank, op.writes[1]);
  std::vector<T> po = Rows(Buffer(rank, op.reads[0]).data(), QRows(), s_, d, b.q_begin, b.q_end);
  std::vector<T> pl = Rows(Buffer(rank, op.reads[1]).data(), QRows(), s_, 1, b.q_begin, b.q_end);
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
              std::to_string(op.peer),
          options_.timeout_s);
  std::vector<T>& dst = Buffer(rank, op.writes[0].kind, op.writes[0].slot);
  if (mailbox_[key].size() != dst.size()) throw Abort{"message size differs from the receive buffer"};
  dst = std::move(mailbox_[key]);
  mailbox_.erase(key);
}

template <typename T>
typename CpuRun<T>::Collective& CpuRun<T>::Deposit(int rank, const Op& op, std::unique_lock<std::mutex>& lock,
                                                  const char* what) {
  const int members = CollectiveGroup(cfg_, rank, op.kind).size;
  Collective& c = collectives_[CollectiveKey(rank, op)];
  if (c.deposits.empty()) c.deposits.resize(members);
  c.deposits[MemberIndex(rank, op.kind)] = Buffer(rank, op.reads[0]);
  ++c.deposited;
  mail_cv_.notify_all();
  WaitFor(lock, mail_cv_, [&] { return c.deposited == members; },
          "rank " + std::to_string(rank) + " in " + what + " tag " + std::to_string(op.tag), options_.timeout_s);
  return c;
}

template <typename T>
void CpuRun<T>::Finish(int rank, const Op& op, Collective& c) {
  if (++c.finished == int(c.deposits.size())) collectives_.erase(CollectiveKey(rank, op));
}

template <typename T>
void CpuRun<T>::AllGather(int rank, const Op& op) {
  std::unique_lock lock(mail_mu_);
  Collective& c = Deposit(rank, op, lock, "all-gather");
  std::vector<T>& dst = Buffer(rank, op.writes[0].kind, op.writes[0].slot);
  for (size_t o = 0; o < c.deposits.size(); ++o)
    std::copy(c.deposits[o].begin(), c.deposits[o].end(), dst.begin() + o * 2 * KvHalf());
  Finish(rank, op, c);
}

template <typename T>
void CpuRun<T>::ReduceScatter(int rank, const Op& op) {
  std::unique_lock lock(mail_mu_);
  Collective& c = Deposit(rank, op, lock, "reduce-scatter");
  std::vector<T>& dst = Buffer(rank, op.writes[0].kind, op.writes[0].slot);
  const int64_t n = 2 * KvHalf();
  const int64_t me = layout_.RingIndex(rank);
  std::fill(dst.begin(), dst.end(), T(0));
  for (const std::vector<T>& part : c.deposits)
    for (int64_t i = 0; i < n; ++i) dst[i] += part[me * n + i];
  Finish(rank, op, c);
}

template <typename T>
void CpuRun<T>::AllToAll(int rank, const Op& op) {
  std::unique_lock lock(mail_mu_);
  Collective& c = Deposit(rank, op, lock, "all-to-all");
  std::vector<T>& dst = Buffer(rank, op.writes[0]);
  const bool to_heads = IsHeadSharded(op.writes[0].kind);
  const BufferKind plain = to_heads ? op.reads[0].kind : op.writes[0].kind;
  // Geometry: [halves][B][heads][tokens][inner]; K/V have two halves over KV heads, lse and delta one value a row.
  const bool kv = plain == BufferKind::kKV || plain == BufferKind::kDKV;
  const int64_t halves = kv ? 2 : 1, batch = p_.batch, p = piece_;
  const int64_t inner = plain == BufferKind::kLse || plain == BufferKind::kDelta ? 1 : p_.head_dim;
  const int64_t all_heads = kv ? p_.kv_heads : p_.heads, my_heads = kv ? local_.kv_heads : local_.heads;
  auto first_head = [&](int u) { return kv ? layout_.FirstKvHead(u) : layout_.FirstQueryHead(u); };
  const int me = layout_.UlyssesIndex(rank);
  if (!to_heads) std::fill(dst.begin(), dst.end(), T(0));  // replicated KV heads' dK/dV are summed
  for (int v = 0; v < int(c.deposits.size()); ++v) {
    const std::vector<T>& src = c.deposits[v];
    // Sequence→head: member v's piece, my heads → tokens [v·p, (v+1)·p) of mine. Head→sequence: member v's heads
    // at my tokens [me·p, (me+1)·p) → those heads of my piece.
    const int heads_of = to_heads ? me : v, piece_of = to_heads ? v : me;
    for (int64_t half = 0; half < halves; ++half)
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t i = 0; i < my_heads; ++i) {
          const int64_t h = first_head(heads_of) + i;
          const int64_t seq_at = ((half * batch + b) * all_heads + h) * p * inner;
          const int64_t head_at = (((half * batch + b) * my_heads + i) * s_ + piece_of * p) * inner;
          if (to_heads)
            std::copy(src.begin() + seq_at, src.begin() + seq_at + p * inner, dst.begin() + head_at);
          else
            for (int64_t e = 0; e < p * inner; ++e) dst[seq_at + e] += src[head_at + e];
        }
  }
  Finish(rank, op, c);
}

template <typename T>
void CpuRun<T>::Execute(int rank, const Op& op) {
  switch (op.kind) {
    case OpKind::kAttend: Attend(rank, op); break;
    case OpKind::kMerge: Merge(rank, op); break;
    case OpKind::kCopy:
      Buffer(rank, op.writes[0].kind, op.writes[0].slot) = Buffer(rank, op.reads[0].kind, op.reads[0].slot);
      break;
    case OpKind::kPrepare: {  // reads dout, out; writes delta (one value per row)
      std::vector<T>& delta = Buffer(rank, op.writes[0]);
      RowDot<T>(int64_t(delta.size()), p_.head_dim, Buffer(rank, op.reads[0]).data(), Buffer(rank, op.reads[1]).data(),
                delta.data());
      break;
    }
    case OpKind::kSend: Send(rank, op); break;
    case OpKind::kRecv: Recv(rank, op); break;
    case OpKind::kAllGather: AllGather(rank, op); break;
    case OpKind::kReduceScatter: ReduceScatter(rank, op); break;
    case OpKind::kAllToAll: AllToAll(rank, op); break;
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
        }, "rank " + std::to_string(rank) + " op " + std::to_string(op.id) + " waiting for its dependencies",
           // Twice the transfer timeout: a stuck transfer, the usual cause, times out first and is what is reported.
           2 * options_.timeout_s);
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
      {
        std::lock_guard lock(st.mu);
        st.done[op.id] = 1;
        st.cv.notify_all();
      }
      if (options_.progress) options_.progress(++ops_done_, sch_.OpCount());
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
  std::vector<std::vector<double>> pieces(world);
  for (int r = 0; r < world; ++r) {
    const std::vector<T>& b = run.Buffer(r, kind);
    pieces[r].assign(b.begin() + offset, b.begin() + offset + count);
  }
  return run.layout().Unshard(pieces, outer, inner);
}

template <typename T>
Status Forward(const Schedule& schedule, const GlobalInputs& in, const ExecutorOptions& options, ForwardOutputs* out,
               Trace* trace) {
  CpuRun<T> run(schedule, options);
  RINGLAB_RETURN_IF_ERROR(run.Run(in, nullptr, trace));
  const Problem& p = schedule.config.problem;
  const int64_t rows = int64_t(p.batch) * p.heads, s = run.layout().PieceTokens();
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
  const int64_t s = run.layout().PieceTokens(), half = kv_rows * s * p.head_dim;
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
