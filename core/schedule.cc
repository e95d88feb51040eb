#include "core/schedule.h"

#include <algorithm>
#include <sstream>

#include "core/ulysses_layout.h"

namespace ringlab {

std::string_view MethodName(Method m) { return m == Method::kAllGather ? "allgather" : "alltoall"; }

std::optional<Method> ParseMethod(std::string_view name) {
  if (name == "allgather") return Method::kAllGather;
  if (name == "alltoall") return Method::kAllToAll;
  return std::nullopt;
}

std::string_view PassName(Pass p) { return p == Pass::kForward ? "forward" : "backward"; }

namespace {
constexpr std::array<std::string_view, 9> kOpKindNames = {"attend", "send",  "recv", "all-gather", "reduce-scatter",
                                                          "merge",  "copy",  "prepare", "all-to-all"};
constexpr std::array<std::string_view, kBufferKindCount> kBufferNames = {
    "q",       "kv",     "kv_ring",     "kv_gathered", "kv_pack", "out",   "lse",    "out_part",
    "lse_part", "dout", "delta", "dq", "dkv_part", "dkv_ring", "dkv", "dkv_gathered",
    "q_heads", "kv_heads", "out_heads", "lse_heads", "dout_heads", "delta_heads", "dq_heads", "dkv_heads"};
}  // namespace

std::string_view OpKindName(OpKind k) { return kOpKindNames[size_t(k)]; }

std::optional<OpKind> ParseOpKind(std::string_view name) {
  for (size_t i = 0; i < kOpKindNames.size(); ++i)
    if (kOpKindNames[i] == name) return OpKind(i);
  return std::nullopt;
}

std::string_view StreamName(StreamKind s) { return s == StreamKind::kCompute ? "compute" : "comm"; }

bool IsCommunication(OpKind k) {
  return k == OpKind::kSend || k == OpKind::kRecv || k == OpKind::kAllGather || k == OpKind::kReduceScatter ||
         k == OpKind::kAllToAll;
}

std::string_view PlacementName(UlyssesPlacement p) {
  return p == UlyssesPlacement::kConsecutive ? "consecutive" : "strided";
}

std::optional<UlyssesPlacement> ParsePlacement(std::string_view name) {
  if (name == "consecutive") return UlyssesPlacement::kConsecutive;
  if (name == "strided") return UlyssesPlacement::kStrided;
  return std::nullopt;
}

bool IsHeadSharded(BufferKind k) { return k >= BufferKind::kQHeads; }

std::optional<BufferKind> HeadShardedOf(BufferKind k) {
  switch (k) {
    case BufferKind::kQ: return BufferKind::kQHeads;
    case BufferKind::kKV: return BufferKind::kKVHeads;
    case BufferKind::kOut: return BufferKind::kOutHeads;
    case BufferKind::kLse: return BufferKind::kLseHeads;
    case BufferKind::kDOut: return BufferKind::kDOutHeads;
    case BufferKind::kDelta: return BufferKind::kDeltaHeads;
    case BufferKind::kDQ: return BufferKind::kDQHeads;
    case BufferKind::kDKV: return BufferKind::kDKVHeads;
    default: return std::nullopt;
  }
}

bool AllToAllPairs(BufferKind from, BufferKind to) { return HeadShardedOf(from) == to || HeadShardedOf(to) == from; }

Variants PeerVariants() { return Variants{.fused_merge = false, .pack_kv = true}; }

std::string_view BufferKindName(BufferKind k) { return kBufferNames[size_t(k)]; }

std::string BufferRefName(BufferRef b) {
  std::string s(BufferKindName(b.kind));
  if (b.kind == BufferKind::kKVRing || b.kind == BufferKind::kKVPack || b.kind == BufferKind::kDKVPart ||
      b.kind == BufferKind::kDKVRing)
    s += "[" + std::to_string(b.slot) + "]";
  return s;
}

double AttendBlock::EffectivePairs() const {
  const int64_t nq = QTokens(), nk = KvTokens();
  if (nq <= 0 || nk <= 0) return 0;
  if (masked) return masked_pairs;
  if (!causal) return double(nq) * double(nk);
  const int64_t d = diagonal_offset;
  // Row i (0-based) may attend keys 0..i+d, i.e. clamp(i + d + 1, 0, nk) of them.
  const int64_t a = std::clamp<int64_t>(-d, 0, nq);          // first row with at least one key
  const int64_t b = std::clamp<int64_t>(nk - d - 1, 0, nq);  // first row with every key
  double pairs = 0;
  if (b > a) pairs += (double(a + d + 1) + double(b - 1 + d + 1)) * double(b - a) / 2;
  pairs += double(nq - b) * double(nk);
  const int64_t diagonal_rows = std::clamp<int64_t>(nk - d, 0, nq) - a;
  return pairs - 0.5 * double(std::max<int64_t>(diagonal_rows, 0));
}

const BufferInfo* RankSchedule::FindBuffer(BufferRef ref) const {
  for (const BufferInfo& b : buffers)
    if (b.ref == ref) return &b;
  return nullptr;
}

int64_t Schedule::OpCount() const {
  int64_t n = 0;
  for (const RankSchedule& r : ranks) n += int64_t(r.ops.size());
  return n;
}

Status ValidateConfig(const ScheduleConfig& cfg) {
  RINGLAB_RETURN_IF_ERROR(ValidateProblem(cfg.problem));
  if (cfg.ulysses != 1 || (cfg.ring != 0 && cfg.ring != cfg.world)) return ValidateUlyssesLayout(cfg);
  return Sharding::Validate(cfg.sharding, cfg.world, cfg.problem.seq, cfg.problem.causal);
}

std::string Describe(const ScheduleConfig& cfg) {
  std::ostringstream s;
  s << MethodName(cfg.method) << " " << PassName(cfg.pass) << " " << ShardingName(cfg.sharding) << " W=" << cfg.world;
  if (cfg.ulysses != 1)  // "U=4xR=2 consecutive": Ulysses degree × ring degree, and where the Ulysses groups lie
    s << " U=" << cfg.ulysses << "xR=" << cfg.world / cfg.ulysses << " " << PlacementName(cfg.placement);
  s << " " << Describe(cfg.problem);
  if (!cfg.variants.fused_merge) s << " unfused-merge";
  if (cfg.variants.pack_kv) s << " pack-kv";
  return s.str();
}

}  // namespace ringlab
