// Ulysses layout: how W = U × R ranks split the work of a Ulysses (U = W) or 2-D hybrid (1 < U < W) schedule, and
// which ranks every collective runs among. Every consumer (builder, validator, executors, simulator) derives ranks,
// heads and tokens from the config through this one class, so they cannot disagree.
//
// Ranks. A rank has a Ulysses index u (0..U−1) and a ring index j (0..R−1):
//   placement consecutive: rank = j·U + u  (a Ulysses group is U consecutive ranks, e.g. one node; the ring crosses)
//   placement strided:     rank = u·R + j  (a ring is R consecutive ranks; the head all-to-all crosses nodes)
// The Ulysses group of a rank is the U ranks with its j; its ring group the R ranks with its u.
//
// Tokens. The sequence is sharded over the ring dimension exactly as plain context parallelism shards it over R
// ranks (Sharding(kind, R, S): head-tail gives ring position j chunks j and 2R−1−j of 2R). Ring position j's shard
// (S/R tokens, local order) is cut into U contiguous pieces of S/W tokens: rank (u, j) holds piece u as its input
// and output (all heads). After the sequence→head all-to-all it holds the whole ring shard for its heads.
//
// Heads. Rank u attends query heads [u·H/U, (u+1)·H/U) (U must divide H).
// GQA rule: rank u holds KV heads [⌊u·Hkv/U⌋, ⌊u·Hkv/U⌋ + max(1, Hkv/U)), and U must divide Hkv or be a multiple
// of it (the validator says so otherwise). So with U ≤ Hkv each KV head lives on exactly one rank of the group (no
// replication); with U > Hkv each rank gets the one KV head its query heads read, i.e. each KV head is replicated
// U/Hkv times — only as much as needed, never all Hkv heads everywhere. The replicas travel in the all-to-all (the
// source sends the same head to U/Hkv ranks) and their bytes are counted in op.bytes; backward, the replicas' dK/dV
// partial sums are added by the head→sequence all-to-all.
//
// All-to-all semantics (OpKind::kAllToAll, reads[0] → writes[0]):
//   sequence→head (a kind without "Heads" → its Heads kind): member v's piece, heads of rank u, lands at tokens
//     [v·S/W, (v+1)·S/W) of rank u's ring shard;
//   head→sequence (a Heads kind → its plain kind): rank v's piece is the sum over members u of u's heads at tokens
//     [v·S/W, (v+1)·S/W) (a plain copy except for replicated KV heads).
// op.bytes = bytes this rank sends to the other U−1 members (its own part stays local); every member sends the same.
//
//   UlyssesLayout l(cfg);
//   l.UlyssesGroup(rank).Rank(i);  // global rank of member i
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/schedule.h"
#include "core/sharding.h"
#include "core/status.h"

namespace ringlab {

// Ranks first, first + stride, ..., first + (size − 1)·stride.
struct CommGroup {
  int first = 0, stride = 1, size = 1;
  int Rank(int i) const { return first + i * stride; }
  bool operator==(const CommGroup&) const = default;
};

// Global token range [begin, end).
struct TokenRange {
  int64_t begin = 0, end = 0;
};

class UlyssesLayout {
 public:
  explicit UlyssesLayout(const ScheduleConfig& cfg);

  int Ulysses() const { return u_; }
  int Ring() const { return r_; }
  int UlyssesIndex(int rank) const;
  int RingIndex(int rank) const;
  int RankOf(int ulysses_index, int ring_index) const;
  CommGroup UlyssesGroup(int rank) const;
  CommGroup RingGroup(int rank) const;

  // Heads one rank attends with, and the first of them (global numbering) for Ulysses index u.
  int QueryHeads() const { return heads_ / u_; }
  int KvHeads() const;
  int FirstQueryHead(int u) const { return u * QueryHeads(); }
  int FirstKvHead(int u) const;
  // Ranks of one Ulysses group holding each KV head: U/Hkv when U > Hkv, else 1.
  int KvReplication() const;

  // The problem the ring part of the schedule attends with: QueryHeads() and KvHeads() heads, global seq.
  Problem LocalProblem() const;
  // Sharding of the ring dimension (R shards of S/R tokens).
  Sharding RingSharding() const { return Sharding(kind_, r_, problem_); }
  int64_t RingShardTokens() const { return seq_ / r_; }
  int64_t PieceTokens() const { return seq_ / (int64_t(u_) * r_); }
  // Global token ranges of the rank's input piece, in local order.
  std::vector<TokenRange> Piece(int rank) const;

  // One rank's piece of a [outer][seq][inner] tensor, and the global tensor from every rank's piece.
  template <typename T>
  std::vector<T> Shard(const std::vector<T>& global, int64_t outer, int64_t inner, int rank) const;
  template <typename T>
  std::vector<T> Unshard(const std::vector<std::vector<T>>& pieces, int64_t outer, int64_t inner) const;

 private:
  int u_, r_, world_, heads_, kv_heads_;
  int64_t seq_;
  Problem problem_;
  ShardingKind kind_;
  UlyssesPlacement placement_;
};

// The ranks a collective op of `rank` runs among: the Ulysses group for all-to-all, the ring group otherwise.
CommGroup CollectiveGroup(const ScheduleConfig& cfg, int rank, OpKind kind);

// Checks ulysses, ring, placement against world, heads, kv-heads and seq (called by ValidateConfig).
Status ValidateUlyssesLayout(const ScheduleConfig& cfg);

template <typename T>
std::vector<T> UlyssesLayout::Shard(const std::vector<T>& global, int64_t outer, int64_t inner, int rank) const {
  const int64_t p = PieceTokens();
  std::vector<T> out(outer * p * inner);
  for (int64_t o = 0; o < outer; ++o) {
    T* dst = out.data() + o * p * inner;
    for (const TokenRange& t : Piece(rank)) {
      const T* src = global.data() + (o * seq_ + t.begin) * inner;
      dst = std::copy(src, src + (t.end - t.begin) * inner, dst);
    }
  }
  return out;
}

template <typename T>
std::vector<T> UlyssesLayout::Unshard(const std::vector<std::vector<T>>& pieces, int64_t outer, int64_t inner) const {
  const int64_t p = PieceTokens();
  std::vector<T> global(outer * seq_ * inner);
  for (int rank = 0; rank < world_; ++rank)
    for (int64_t o = 0; o < outer; ++o) {
      const T* src = pieces[rank].data() + o * p * inner;
      for (const TokenRange& t : Piece(rank)) {
        std::copy(src, src + (t.end - t.begin) * inner, global.data() + (o * seq_ + t.begin) * inner);
        src += (t.end - t.begin) * inner;
      }
    }
  return global;
}

}  // namespace ringlab
