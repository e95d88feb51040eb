#include "core/ulysses_layout.h"

#include <string>

namespace ringlab {

UlyssesLayout::UlyssesLayout(const ScheduleConfig& cfg)
    : u_(std::max(cfg.ulysses, 1)),
      r_(cfg.ring > 0 ? cfg.ring : std::max(cfg.world / std::max(cfg.ulysses, 1), 1)),
      world_(cfg.world),
      heads_(cfg.problem.heads),
      kv_heads_(cfg.problem.kv_heads),
      seq_(cfg.problem.seq),
      problem_(cfg.problem),
      kind_(cfg.sharding),
      placement_(cfg.placement) {}

int UlyssesLayout::UlyssesIndex(int rank) const {
  return placement_ == UlyssesPlacement::kConsecutive ? rank % u_ : rank / r_;
}

int UlyssesLayout::RingIndex(int rank) const {
  return placement_ == UlyssesPlacement::kConsecutive ? rank / u_ : rank % r_;
}

int UlyssesLayout::RankOf(int ulysses_index, int ring_index) const {
  return placement_ == UlyssesPlacement::kConsecutive ? ring_index * u_ + ulysses_index
                                                      : ulysses_index * r_ + ring_index;
}

CommGroup UlyssesLayout::UlyssesGroup(int rank) const {
  const bool consecutive = placement_ == UlyssesPlacement::kConsecutive;
  return CommGroup{.first = RankOf(0, RingIndex(rank)), .stride = consecutive ? 1 : r_, .size = u_};
}

CommGroup UlyssesLayout::RingGroup(int rank) const {
  const bool consecutive = placement_ == UlyssesPlacement::kConsecutive;
  return CommGroup{.first = RankOf(UlyssesIndex(rank), 0), .stride = consecutive ? u_ : 1, .size = r_};
}

int UlyssesLayout::KvHeads() const { return std::max(1, kv_heads_ / u_); }

int UlyssesLayout::FirstKvHead(int u) const { return int(int64_t(u) * kv_heads_ / u_); }

int UlyssesLayout::KvReplication() const { return u_ > kv_heads_ ? u_ / kv_heads_ : 1; }

Problem UlyssesLayout::LocalProblem() const {
  // Only heads change: batch, seq, head dim, dtype and mask are those of the whole problem.
  Problem p = problem_;
  p.heads = QueryHeads();
  p.kv_heads = KvHeads();
  return p;
}

std::vector<TokenRange> UlyssesLayout::Piece(int rank) const {
  const Sharding ring = RingSharding();
  const int64_t c = ring.ChunkTokens(), p = PieceTokens();
  const int j = RingIndex(rank);
  std::vector<TokenRange> out;
  for (int64_t local = UlyssesIndex(rank) * p, end = local + p; local < end;) {
    const int64_t in_chunk = std::min(end - local, c - local % c);
    const int64_t g = ring.GlobalToken(j, local);
    out.push_back(TokenRange{g, g + in_chunk});
    local += in_chunk;
  }
  return out;
}

CommGroup CollectiveGroup(const ScheduleConfig& cfg, int rank, OpKind kind) {
  const UlyssesLayout l(cfg);
  return kind == OpKind::kAllToAll ? l.UlyssesGroup(rank) : l.RingGroup(rank);
}

namespace {

std::string Divisors(int64_t n) {
  std::string s;
  for (int64_t d = 1; d <= n; ++d)
    if (n % d == 0) s += (s.empty() ? "" : ", ") + std::to_string(d);
  return s;
}

}  // namespace

Status ValidateUlyssesLayout(const ScheduleConfig& cfg) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument(m); };
  const int w = cfg.world, u = cfg.ulysses, h = cfg.problem.heads, hkv = cfg.problem.kv_heads;
  const std::string us = std::to_string(u), ws = std::to_string(w);
  if (w < 1) return bad("world must be >= 1 (got " + ws + ")");
  if (u < 1) return bad("ulysses (Ulysses degree U) must be >= 1 (got " + us + ")");
  if (w % u != 0) return bad("ulysses U=" + us + " must divide world W=" + ws + " (allowed: " + Divisors(w) + ")");
  if (cfg.ring < 0 || (cfg.ring > 0 && cfg.ring * u != w))
    return bad("ring R=" + std::to_string(cfg.ring) + " times ulysses U=" + us + " must equal world W=" + ws +
               " (allowed ring: 0 to derive it, or " + std::to_string(w / u) + ")");
  if (h % u != 0)
    return bad("ulysses U=" + us + " must divide heads H=" + std::to_string(h) + " (allowed: " + Divisors(h) + ")");
  if (u % hkv != 0 && hkv % u != 0)
    return bad("ulysses U=" + us + " and kv-heads Hkv=" + std::to_string(hkv) +
               " must divide one another (allowed U: divisors of " + std::to_string(hkv) + " or multiples of it)");
  const int r = w / u;
  const int64_t seq = cfg.problem.seq;
  if (cfg.sharding == ShardingKind::kHeadTail && !cfg.problem.causal)
    return bad("sharding head-tail is causal load balancing and needs --causal (allowed for --no-causal: contiguous)");
  if (seq % w != 0)
    return bad("seq " + std::to_string(seq) + " must be divisible by world = " + ws +
               " (every rank holds S/W tokens of its ring shard)");
  if (cfg.sharding == ShardingKind::kBalanced && seq % (int64_t(kBalancedChunksPerRank) * r) != 0)
    return bad("seq " + std::to_string(seq) + " must be divisible by " + std::to_string(kBalancedChunksPerRank) +
               "*R = " + std::to_string(kBalancedChunksPerRank * r) + " for sharding balanced (" +
               std::to_string(kBalancedChunksPerRank) + " chunks per rank of the ring dimension R=" +
               std::to_string(r) + ")");
  if (cfg.sharding == ShardingKind::kHeadTail && seq % (2 * r) != 0)
    return bad("seq " + std::to_string(seq) + " must be divisible by 2*R = " + std::to_string(2 * r) +
               " for sharding head-tail (it balances the ring dimension R=" + std::to_string(r) + ")");
  return Status::Ok();
}

}  // namespace ringlab
