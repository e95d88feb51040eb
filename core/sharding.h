// Sharding: how the global sequence maps to ranks, and back.
//
// The sequence is cut into equal chunks: W chunks for `contiguous` (rank r holds chunk r), 2W chunks for `head-tail`
// (rank r holds chunks r and 2W−1−r, PyTorch's round-robin load balancer, so every rank gets equal causal work).
// `balanced` (issue 19: packed documents, windows) cuts the sequence into 4W equal chunks and hands them out by their
// attention work under the problem's mask (FLOP-counting pairs of the chunk's queries, keys anywhere): heaviest chunk
// first to the rank with the least work that still has room (4 chunks each; ties to the lower rank), so every rank
// holds S/W tokens (what the executors' buffers need) and no document is padded. With a plain causal mask it is close
// to head-tail; with short documents or windows it evens out what head-tail cannot.
// A rank's shard is its chunks concatenated in increasing global order, so local token order is monotone in global
// order: a causal mask between two shards is a plain comparison of local indices only within one rank's own shard.
//
//   Sharding s(ShardingKind::kHeadTail, /*world=*/4, /*seq=*/32);
//   s.GlobalToken(/*rank=*/1, /*local=*/5);  // 13: chunk 6 of 8, offset 1
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.h"
#include "core/status.h"

namespace ringlab {

enum class ShardingKind { kContiguous, kHeadTail, kBalanced };
inline constexpr int kBalancedChunksPerRank = 4;
inline constexpr ShardingKind kShardingKinds[] = {ShardingKind::kContiguous, ShardingKind::kHeadTail,
                                                  ShardingKind::kBalanced};

std::string_view ShardingName(ShardingKind k);
std::optional<ShardingKind> ParseSharding(std::string_view name);
// "contiguous, head-tail, balanced": the allowed values, for error messages.
inline constexpr const char* kShardingChoices = "contiguous, head-tail, balanced";

class Sharding {
 public:
  // `balanced` reads the problem's mask (its seq is the sequence); the others only its seq.
  Sharding(ShardingKind kind, int world, const Problem& problem);
  // The same for a plain mask: `balanced` then balances plain causal work.
  Sharding(ShardingKind kind, int world, int64_t seq);

  // seq must divide into the chunks: W for contiguous, 2W for head-tail, 4W for balanced. The message names both
  // numbers.
  static Status Validate(ShardingKind kind, int world, int64_t seq, bool causal);

  ShardingKind kind() const { return kind_; }
  int world() const { return world_; }
  int64_t seq() const { return seq_; }
  int ChunksPerRank() const { return ChunksPerRank(kind_); }
  static int ChunksPerRank(ShardingKind k) {
    return k == ShardingKind::kHeadTail ? 2 : k == ShardingKind::kBalanced ? kBalancedChunksPerRank : 1;
  }
  int64_t ChunkTokens() const { return seq_ / (int64_t(world_) * ChunksPerRank()); }
  int64_t ShardTokens() const { return seq_ / world_; }
  // Global chunk index of the rank's i-th chunk (i < ChunksPerRank()), increasing in i.
  int Chunk(int rank, int i) const;
  int64_t GlobalToken(int rank, int64_t local) const;

  // Gathers one rank's shard of a [outer][seq][inner] tensor (outer = batch·heads, inner = head_dim, or 1 for lse).
  template <typename T>
  std::vector<T> Shard(const std::vector<T>& global, int64_t outer, int64_t inner, int rank) const;
  // Reassembles the global tensor from all ranks' shards.
  template <typename T>
  std::vector<T> Unshard(const std::vector<std::vector<T>>& shards, int64_t outer, int64_t inner) const;

 private:
  void AssignBalanced(const Mask& mask);

  ShardingKind kind_;
  int world_;
  int64_t seq_;
  // balanced: rank r's chunks at [r·4, r·4 + 4), increasing (shared: every rank's builder asks for the same)
  std::shared_ptr<const std::vector<int>> chunks_;
};

template <typename T>
std::vector<T> Sharding::Shard(const std::vector<T>& global, int64_t outer, int64_t inner, int rank) const {
  const int64_t s = ShardTokens(), c = ChunkTokens();
  std::vector<T> out(outer * s * inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int i = 0; i < ChunksPerRank(); ++i) {
      const T* src = global.data() + (o * seq_ + Chunk(rank, i) * c) * inner;
      std::copy(src, src + c * inner, out.data() + (o * s + i * c) * inner);
    }
  return out;
}

template <typename T>
std::vector<T> Sharding::Unshard(const std::vector<std::vector<T>>& shards, int64_t outer, int64_t inner) const {
  const int64_t s = ShardTokens(), c = ChunkTokens();
  std::vector<T> global(outer * seq_ * inner);
  for (int r = 0; r < world_; ++r)
    for (int64_t o = 0; o < outer; ++o)
      for (int i = 0; i < ChunksPerRank(); ++i) {
        const T* src = shards[r].data() + (o * s + i * c) * inner;
        std::copy(src, src + c * inner, global.data() + (o * seq_ + Chunk(r, i) * c) * inner);
      }
  return global;
}

}  // namespace ringlab
