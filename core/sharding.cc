#include "core/sharding.h"

namespace ringlab {

std::string_view ShardingName(ShardingKind k) { return k == ShardingKind::kHeadTail ? "head-tail" : "contiguous"; }

std::optional<ShardingKind> ParseSharding(std::string_view name) {
  if (name == "contiguous") return ShardingKind::kContiguous;
  if (name == "head-tail" || name == "headtail" || name == "zigzag") return ShardingKind::kHeadTail;
  return std::nullopt;
}

Sharding::Sharding(ShardingKind kind, int world, int64_t seq) : kind_(kind), world_(world), seq_(seq) {}

Status Sharding::Validate(ShardingKind kind, int world, int64_t seq, bool causal) {
  if (world < 1) return Status::InvalidArgument("world must be >= 1 (got " + std::to_string(world) + ")");
  if (kind == ShardingKind::kHeadTail && !causal)
    return Status::InvalidArgument(
        "sharding head-tail is causal load balancing and needs --causal (allowed for --no-causal: contiguous)");
  const int64_t chunks = int64_t(world) * (kind == ShardingKind::kHeadTail ? 2 : 1);
  if (seq % chunks != 0)
    return Status::InvalidArgument("seq " + std::to_string(seq) + " must be divisible by " +
                                   (kind == ShardingKind::kHeadTail ? "2*world = " : "world = ") +
                                   std::to_string(chunks) + " for sharding " + std::string(ShardingName(kind)));
  return Status::Ok();
}

int Sharding::Chunk(int rank, int i) const {
  if (kind_ == ShardingKind::kContiguous) return rank;
  return i == 0 ? rank : 2 * world_ - 1 - rank;
}

int64_t Sharding::GlobalToken(int rank, int64_t local) const {
  const int64_t c = ChunkTokens();
  return Chunk(rank, int(local / c)) * c + local % c;
}

}  // namespace ringlab
