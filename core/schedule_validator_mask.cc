// Validation of schedules under a window or document mask (core/mask.h): coverage by the mask's classification of
// each (query chunk, key chunk) pair, and ring hops that carry K/V nobody downstream uses.
#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/mask.h"
#include "core/schedule_validator.h"
#include "core/ulysses_layout.h"

namespace ringlab {
namespace {

Status Fail(int rank, const Op& op, const std::string& m) {
  std::ostringstream s;
  s << "schedule invalid: rank " << rank << " op " << op.id << " (" << OpKindName(op.kind) << " step " << op.step
    << ") " << m;
  return Status::Internal(s.str());
}

// One block against the mask: aligned to chunks, and per chunk pair the right kind with the right fields.
Status CheckBlock(const Mask& mask, const Sharding& sh, int rank, int ring_index, const Op& op,
                  std::vector<uint16_t>* count, size_t group_base) {
  const AttendBlock& b = op.attend;
  const int64_t c = sh.ChunkTokens();
  const int chunks = sh.world() * sh.ChunksPerRank();
  if (b.q_begin % c || b.q_end % c || b.kv_begin % c || b.kv_end % c || b.q_begin < 0 || b.kv_begin < 0 ||
      b.q_end > sh.ShardTokens() || b.kv_end > sh.ShardTokens() || b.kv_origin < 0 || b.kv_origin >= sh.world())
    return Fail(rank, op, "block is not aligned to the sharding's chunks of " + std::to_string(c) + " tokens");
  if (b.causal) return Fail(rank, op, "uses the plain causal mask under a window or document mask");
  if (b.masked) {
    if (b.q_end - b.q_begin != c || b.kv_end - b.kv_begin != c)
      return Fail(rank, op, "is masked but spans more than one chunk");
    if (b.q_global != sh.GlobalToken(ring_index, b.q_begin) || b.kv_global != sh.GlobalToken(b.kv_origin, b.kv_begin))
      return Fail(rank, op, "is masked with global tokens that are not its shards'");
  }
  for (int64_t qt = b.q_begin; qt < b.q_end; qt += c)
    for (int64_t kt = b.kv_begin; kt < b.kv_end; kt += c) {
      const int qc = sh.Chunk(ring_index, int(qt / c)), kc = sh.Chunk(b.kv_origin, int(kt / c));
      const BlockVisibility v = mask.Classify(qc * c, qc * c + c, kc * c, kc * c + c);
      const std::string pair = "query chunk " + std::to_string(qc) + " against key chunk " + std::to_string(kc);
      if (v.kind == BlockKind::kEmpty) return Fail(rank, op, "computes " + pair + ", which the mask empties");
      if (!b.masked && v.kind != BlockKind::kFull)
        return Fail(rank, op, "computes " + pair + " as full, but the mask hides part of it");
      if (b.masked && std::abs(b.masked_pairs - v.EffectivePairs(mask.causal())) > 1e-9 * (1 + b.masked_pairs))
        return Fail(rank, op, "counts " + std::to_string(b.masked_pairs) + " pairs for " + pair + ", the mask " +
                                  std::to_string(v.EffectivePairs(mask.causal())));
      if (++(*count)[group_base + size_t(qc) * chunks + kc] > 1)
        return Fail(rank, op, "computes " + pair + " a second time");
    }
  return Status::Ok();
}

}  // namespace

Status CheckMaskedCoverage(const Schedule& schedule) {
  const ScheduleConfig& cfg = schedule.config;
  const Mask mask = cfg.problem.AttentionMask();
  const UlyssesLayout layout(cfg);
  const Sharding sh = layout.RingSharding();
  const int64_t c = sh.ChunkTokens();
  const int chunks = layout.Ring() * sh.ChunksPerRank();
  const size_t per_group = size_t(chunks) * chunks;
  std::vector<uint16_t> count(size_t(layout.Ulysses()) * per_group, 0);
  for (int r = 0; r < cfg.world; ++r)
    for (const Op& op : schedule.ranks[r].ops)
      if (op.kind == OpKind::kAttend)
        RINGLAB_RETURN_IF_ERROR(
            CheckBlock(mask, sh, r, layout.RingIndex(r), op, &count, layout.UlyssesIndex(r) * per_group));
  for (int g = 0; g < layout.Ulysses(); ++g)
    for (int qc = 0; qc < chunks; ++qc)
      for (int kc = 0; kc < chunks; ++kc)
        if (count[g * per_group + size_t(qc) * chunks + kc] == 0 &&
            mask.Classify(qc * c, qc * c + c, kc * c, kc * c + c).kind != BlockKind::kEmpty)
          return Status::Internal("schedule invalid: query chunk " + std::to_string(qc) + " against key chunk " +
                                  std::to_string(kc) + " is visible under the mask but never computed");
  return Status::Ok();
}

Status CheckMaskedHops(const Schedule& schedule) {
  const ScheduleConfig& cfg = schedule.config;
  if (cfg.method != Method::kAllToAll || cfg.problem.mask.IsPlain()) return Status::Ok();
  const UlyssesLayout layout(cfg);
  const int ring = layout.Ring();
  // reach[g][o]: the last ring step at which head group g's ranks attend origin o's K/V (from the schedule itself).
  std::vector<int> reach(size_t(layout.Ulysses()) * ring, -1);
  for (int r = 0; r < cfg.world; ++r)
    for (const Op& op : schedule.ranks[r].ops)
      if (op.kind == OpKind::kAttend) {
        const int o = op.attend.kv_origin, t = (layout.RingIndex(r) - o + ring) % ring;
        int& best = reach[size_t(layout.UlyssesIndex(r)) * ring + o];
        best = std::max(best, t);
      }
  for (int r = 0; r < cfg.world; ++r)
    for (const Op& op : schedule.ranks[r].ops) {
      if (op.kind != OpKind::kRecv || op.writes.empty() || op.writes[0].kind != BufferKind::kKVRing) continue;
      const int o = ((layout.RingIndex(r) - 1 - op.step) % ring + ring) % ring;  // received at step t for step t+1
      if (reach[size_t(layout.UlyssesIndex(r)) * ring + o] < op.step + 1)
        return Fail(r, op, "receives origin " + std::to_string(o) +
                               "'s K/V, which no query of this or a later rank on the ring sees");
    }
  return Status::Ok();
}

}  // namespace ringlab
