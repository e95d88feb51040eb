// Schedule: what every rank does for one attention pass, as a per-rank list of ops with streams, buffers, bytes,
// FLOPs and dependencies. The CPU executor, the GPU executor and the simulator all consume this one description.
//
// Execution semantics, shared by every consumer:
//   * Each rank has two streams (compute, comm). Ops of one stream run one at a time in list order.
//   * An op may start when its stream is free and every op in `deps` (indices into the same rank's list) is done.
//   * Send/recv pairs match by (sender, receiver, tag) and are a rendezvous: both must be posted. Consecutive ops on
//     one stream with the same `group` are posted together (ncclGroupStart/End), which is how a ring permute avoids
//     deadlock. Collectives match by (kind, tag) among the ranks of their communicator, which every consumer derives
//     from the config (core/ulysses_layout.h, CollectiveGroup): all-gather and reduce-scatter among the rank's ring
//     group (every rank when ulysses = 1), all-to-all among its Ulysses group.
//   * Buffers named in `reads`/`writes` live on the op's rank. Executors create every buffer in the rank's buffer
//     table before the pass and initialise it as the table says (inputs, zeros, −inf).
//
//   ScheduleConfig cfg{.problem = DefaultProblem(), .world = 8};
//   Schedule s;
//   Status st = BuildSchedule(cfg, &s);  // every invariant holds: see schedule_validator.h
#pragma once

#include <algorithm>
#include <array>
#include <stdexcept>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.h"
#include "core/sharding.h"
#include "core/status.h"

namespace ringlab {

enum class Method { kAllGather, kAllToAll };
enum class Pass { kForward, kBackward };
// kAllToAll (Ulysses): every rank of the Ulysses group sends each other member its part of reads[0] and assembles
// writes[0] from the members' parts; the buffer kinds say which way (sequence-sharded → head-sharded or back, see
// BufferKind and core/ulysses_layout.h). Appended last so existing kinds keep their values.
enum class OpKind : uint8_t { kAttend, kSend, kRecv, kAllGather, kReduceScatter, kMerge, kCopy, kPrepare, kAllToAll };
enum class StreamKind : uint8_t { kCompute = 0, kComm = 1 };
inline constexpr int kStreamCount = 2;

std::string_view MethodName(Method m);
std::optional<Method> ParseMethod(std::string_view name);
std::string_view PassName(Pass p);
std::string_view OpKindName(OpKind k);
std::optional<OpKind> ParseOpKind(std::string_view name);
std::string_view StreamName(StreamKind s);
bool IsCommunication(OpKind k);

// Implementation variants a study compares. The defaults are ringlab's; `PeerVariants()` describes PyTorch's.
struct Variants {
  bool fused_merge = true;  // attention merges into the accumulators in its epilogue; false: separate merge ops
  bool pack_kv = false;     // K and V are copied into one packed buffer before each send; false: sent from their own
};
Variants PeerVariants();

// Where the Ulysses groups lie among the ranks (only matters for 1 < ulysses < world): consecutive ranks (the head
// all-to-all inside a node, the ring across nodes) or strided ranks (the ring inside a node).
enum class UlyssesPlacement : uint8_t { kConsecutive, kStrided };
std::string_view PlacementName(UlyssesPlacement p);
std::optional<UlyssesPlacement> ParsePlacement(std::string_view name);

// W = ulysses × ring: Ulysses (head all-to-all) inside groups of `ulysses` ranks, `method` (ring pass-KV or
// all-gather) across the ring dimension R = world / ulysses, `sharding` balancing the ring dimension. ulysses = 1 is
// plain context parallelism, ulysses = world pure DeepSpeed-Ulysses. See core/ulysses_layout.h.
struct ScheduleConfig {
  Problem problem;
  int world = 8;
  ShardingKind sharding = ShardingKind::kHeadTail;
  Method method = Method::kAllToAll;  // across the ring dimension
  Pass pass = Pass::kForward;
  Variants variants;
  int ulysses = 1;   // Ulysses degree U: ranks per head all-to-all group; must divide world and heads
  int ring = 0;      // ring degree R; 0 derives world / ulysses, otherwise ring × ulysses must equal world
  UlyssesPlacement placement = UlyssesPlacement::kConsecutive;
};

// Named per-rank buffers. `slot` distinguishes double buffers (ring) or origins (gathered).
enum class BufferKind : uint8_t {
  kQ,            // local query shard (input)
  kKV,           // local K and V shard (input)
  kKVRing,       // received K/V, slots 0 and 1 (double buffer)
  kKVGathered,   // all-gathered K/V, slot = origin rank
  kKVPack,       // packed K+V send staging (pack_kv variant), slots 0 and 1
  kOut,          // float32 output accumulator (normalized)
  kLse,          // float32 log-sum-exp accumulator
  kOutPart,      // float32 partial output of one block (unfused merge)
  kLsePart,      // float32 partial lse of one block (unfused merge)
  kDOut,         // gradient of the output (backward input)
  kDelta,        // rowsum(dOut ∘ Out), backward preprocess
  kDQ,           // float32 dQ accumulator
  kDKVPart,      // float32 dK/dV of one block computed here, slots 0 and 1
  kDKVRing,      // float32 travelling dK/dV accumulator received from the previous rank, slots 0 and 1
  kDKV,          // float32 final dK/dV of the local shard
  kDKVGathered,  // float32 dK/dV per origin before the reduce-scatter (allgather method), slot = origin
  // Head-sharded (ulysses > 1): this rank's query heads (or its KV heads, see ulysses_layout.h) over the whole ring
  // shard, filled by / drained through all-to-alls. The kinds above without "Heads" are then the rank's
  // sequence-sharded inputs and outputs (all heads, S/W tokens); ring buffers hold head-sharded data.
  kQHeads,       // query heads (dtype)
  kKVHeads,      // K and V of the rank's KV heads (dtype)
  kOutHeads,     // float32 output accumulator
  kLseHeads,     // float32 lse (forward accumulator; backward input)
  kDOutHeads,    // dOut (backward input)
  kDeltaHeads,   // float32 delta (backward)
  kDQHeads,      // float32 dQ accumulator
  kDKVHeads,     // float32 dK/dV of the rank's KV heads (partial sums when KV heads are replicated)
};
inline constexpr int kBufferKindCount = int(BufferKind::kDKVHeads) + 1;
// True for the head-sharded kinds (kQHeads..kDKVHeads).
bool IsHeadSharded(BufferKind k);
// The head-sharded form of a sequence-sharded input/output kind (kQ → kQHeads, ..., kDKV → kDKVHeads), or nullopt.
std::optional<BufferKind> HeadShardedOf(BufferKind k);
// True when an all-to-all may exchange `from` into `to`: a kind and its head-sharded form, either way.
bool AllToAllPairs(BufferKind from, BufferKind to);
std::string_view BufferKindName(BufferKind k);

struct BufferRef {
  BufferKind kind = BufferKind::kQ;
  uint8_t slot = 0;  // 0 or 1 for double buffers
  bool operator==(const BufferRef&) const = default;
};
std::string BufferRefName(BufferRef b);  // "kv_ring[1]"

enum class BufferInit : uint8_t { kInput, kZero, kNegInf, kNone };

struct BufferInfo {
  BufferRef ref;
  int64_t bytes = 0;
  BufferInit init = BufferInit::kNone;
};

// An attention block: query tokens [q_begin, q_end) of this rank's shard against key/value tokens
// [kv_begin, kv_end) of rank `kv_origin`'s shard. With causal set, local query i (from q_begin) may attend local key j
// (from kv_begin) iff j <= i + diagonal_offset. With masked set (a window or documents, core/mask.h), query i may
// attend key j iff the problem's mask allows global tokens (q_global + i, kv_global + j); such a block lies inside one
// chunk of each shard, so its tokens are consecutive in global order.
// Merge: forward, fold into the (out, lse) accumulators instead of overwriting them; backward, add this block's dK/dV
// into the origin's dK/dV buffer instead of setting it (rows outside the block to zero).
struct AttendBlock {
  int64_t q_begin = 0, q_end = 0;
  int32_t kv_origin = 0;
  int64_t kv_begin = 0, kv_end = 0;
  bool causal = false;
  int64_t diagonal_offset = 0;
  bool merge = true;  // merge into (out, lse) accumulators; false: overwrite the written buffers
  bool masked = false;
  int64_t q_global = 0, kv_global = 0;  // masked: global tokens of q_begin and kv_begin (-1: no one place, a model's)
  double masked_pairs = 0;              // masked: FLOP-counting pairs (BlockVisibility::EffectivePairs)
  int64_t QTokens() const { return q_end - q_begin; }
  int64_t KvTokens() const { return kv_end - kv_begin; }
  // Allowed (query, key) pairs, counting pairs on the diagonal j == i + offset as half (FlashAttention's convention,
  // which makes a square causal block exactly half of a full one). Masked blocks: masked_pairs.
  double EffectivePairs() const;
};

inline constexpr int kMaxOpBuffers = 6;
inline constexpr int kMaxOpDeps = 4;

// A small fixed-capacity list: ops are numerous (W² at scale), so they hold no heap allocations.
template <typename T, int N>
struct SmallList {
  std::array<T, N> items{};
  uint8_t count = 0;
  void push_back(const T& v);
  const T* begin() const { return items.data(); }
  const T* end() const { return items.data() + count; }
  int size() const { return count; }
  bool empty() const { return count == 0; }
  const T& operator[](int i) const { return items[i]; }
};

struct Op {
  int32_t id = 0;  // index in its rank's op list; (rank, id) names an op globally and in traces
  OpKind kind = OpKind::kAttend;
  StreamKind stream = StreamKind::kCompute;
  int32_t step = 0;      // ring step (alltoall) or origin order (allgather)
  int32_t peer = -1;     // send: receiver; recv: sender; -1 otherwise
  int32_t tag = -1;      // send/recv matching tag; collective id for collectives
  int32_t group = -1;    // consecutive comm ops with the same group are posted together
  AttendBlock attend;    // kAttend only
  SmallList<BufferRef, kMaxOpBuffers> reads, writes;
  SmallList<int32_t, kMaxOpDeps> deps;  // ids on the same rank that must finish first
  int64_t bytes = 0;  // bytes moved (comm ops: message bytes per rank; memory ops: bytes read + written)
  double flops = 0;   // matmul FLOPs (attend)
};

struct RankSchedule {
  std::vector<Op> ops;
  std::vector<BufferInfo> buffers;
  const BufferInfo* FindBuffer(BufferRef ref) const;
};

struct Schedule {
  ScheduleConfig config;
  std::vector<RankSchedule> ranks;
  int64_t OpCount() const;
};

// Checks problem, world and sharding together (each message names the field and the allowed values).
Status ValidateConfig(const ScheduleConfig& cfg);

// Generates the ops of one rank (valid config assumed; call ValidateConfig first). Lets a simulator at large W build
// ranks on demand instead of holding W² ops.
RankSchedule BuildRankSchedule(const ScheduleConfig& cfg, int rank);

// Validates the config and generates every rank.
Status BuildSchedule(const ScheduleConfig& cfg, Schedule* out);

// "alltoall forward head-tail W=8 B=1 H=32 ..."
std::string Describe(const ScheduleConfig& cfg);

template <typename T, int N>
bool operator==(const SmallList<T, N>& a, const SmallList<T, N>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

template <typename T, int N>
void SmallList<T, N>::push_back(const T& v) {
  if (count >= N) throw std::length_error("SmallList capacity exceeded");
  items[count++] = v;
}

}  // namespace ringlab
