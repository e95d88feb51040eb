#include "core/sharding.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <queue>
#include <utility>

namespace ringlab {

std::string_view ShardingName(ShardingKind k) {
  switch (k) {
    case ShardingKind::kHeadTail: return "head-tail";
    case ShardingKind::kBalanced: return "balanced";
    case ShardingKind::kContiguous: break;
  }
  return "contiguous";
}

std::optional<ShardingKind> ParseSharding(std::string_view name) {
  if (name == "contiguous") return ShardingKind::kContiguous;
  if (name == "head-tail" || name == "headtail" || name == "zigzag") return ShardingKind::kHeadTail;
  if (name == "balanced") return ShardingKind::kBalanced;
  return std::nullopt;
}

Sharding::Sharding(ShardingKind kind, int world, const Problem& problem)
    : kind_(kind), world_(world), seq_(problem.seq) {
  if (kind_ == ShardingKind::kBalanced) AssignBalanced(problem.AttentionMask());
}

Sharding::Sharding(ShardingKind kind, int world, int64_t seq) : kind_(kind), world_(world), seq_(seq) {
  if (kind_ == ShardingKind::kBalanced) AssignBalanced(Mask(true, MaskShape{}));
}

namespace {

// Heaviest chunk first to the least loaded rank with room (a min-heap on (work, rank)); chunks sorted per rank.
std::vector<int> BalanceChunks(const Mask& mask, int world, int64_t seq) {
  const int per = kBalancedChunksPerRank, n = world * per;
  const int64_t c = seq / n;
  // Work of each chunk: its queries' visible pairs, keys anywhere in the sequence.
  std::vector<double> work(n);
  for (int i = 0; i < n; ++i) work[i] = mask.Classify(i * c, (i + 1) * c, 0, seq).EffectivePairs(mask.causal());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return work[a] > work[b]; });
  using Load = std::pair<double, int>;
  std::priority_queue<Load, std::vector<Load>, std::greater<Load>> heap;
  for (int r = 0; r < world; ++r) heap.push({0.0, r});
  std::vector<std::vector<int>> held(world);
  for (int chunk : order) {
    auto [load, r] = heap.top();
    heap.pop();
    held[r].push_back(chunk);
    if (int(held[r].size()) < per) heap.push({load + work[chunk], r});  // a full rank leaves the heap
  }
  std::vector<int> out;
  for (auto& h : held) {
    std::sort(h.begin(), h.end());
    out.insert(out.end(), h.begin(), h.end());
  }
  return out;
}

// The last few assignments: every rank's schedule builder (and the executors' layouts) asks for the same one. An
// entry holds its documents, so a key's pointer cannot be reused by another list while it is cached.
struct BalancedKey {
  int world;
  int64_t seq, window_left, window_right;
  bool causal;
  std::shared_ptr<const std::vector<int64_t>> documents;
  bool operator==(const BalancedKey& o) const {
    return world == o.world && seq == o.seq && window_left == o.window_left && window_right == o.window_right &&
           causal == o.causal && documents == o.documents;
  }
};

std::shared_ptr<const std::vector<int>> CachedBalance(const Mask& mask, int world, int64_t seq) {
  static std::mutex mu;
  static std::vector<std::pair<BalancedKey, std::shared_ptr<const std::vector<int>>>> cache;
  const MaskShape& m = mask.shape();
  const BalancedKey key{world, seq, m.window_left, m.window_right, mask.causal(), m.documents};
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [k, v] : cache)
      if (k == key) return v;
  }
  auto value = std::make_shared<const std::vector<int>>(BalanceChunks(mask, world, seq));
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= 8) cache.erase(cache.begin());
  cache.push_back({key, value});
  return value;
}

}  // namespace

void Sharding::AssignBalanced(const Mask& mask) { chunks_ = CachedBalance(mask, world_, seq_); }

Status Sharding::Validate(ShardingKind kind, int world, int64_t seq, bool causal) {
  if (world < 1) return Status::InvalidArgument("world must be >= 1 (got " + std::to_string(world) + ")");
  if (kind == ShardingKind::kHeadTail && !causal)
    return Status::InvalidArgument(
        "sharding head-tail is causal load balancing and needs --causal (allowed for --no-causal: contiguous)");
  const int per = ChunksPerRank(kind);
  const int64_t chunks = int64_t(world) * per;
  if (seq % chunks != 0)
    return Status::InvalidArgument("seq " + std::to_string(seq) + " must be divisible by " +
                                   (per > 1 ? std::to_string(per) + "*world = " : "world = ") +
                                   std::to_string(chunks) + " for sharding " + std::string(ShardingName(kind)));
  return Status::Ok();
}

int Sharding::Chunk(int rank, int i) const {
  if (kind_ == ShardingKind::kContiguous) return rank;
  if (kind_ == ShardingKind::kBalanced) return (*chunks_)[size_t(rank) * kBalancedChunksPerRank + i];
  return i == 0 ? rank : 2 * world_ - 1 - rank;
}

int64_t Sharding::GlobalToken(int rank, int64_t local) const {
  const int64_t c = ChunkTokens();
  return Chunk(rank, int(local / c)) * c + local % c;
}

}  // namespace ringlab
