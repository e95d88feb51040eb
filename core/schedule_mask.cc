#include "core/schedule_mask.h"

#include <mutex>
#include <tuple>

namespace ringlab {

std::vector<AttendBlock> MaskedBlocks(const Mask& mask, const Sharding& sh, int rank, int origin) {
  std::vector<AttendBlock> blocks;
  const int64_t c = sh.ChunkTokens();
  for (int qi = 0; qi < sh.ChunksPerRank(); ++qi)
    for (int ki = 0; ki < sh.ChunksPerRank(); ++ki) {
      const int64_t qg = sh.Chunk(rank, qi) * c, kg = sh.Chunk(origin, ki) * c;
      const BlockVisibility v = mask.Classify(qg, qg + c, kg, kg + c);
      if (v.kind == BlockKind::kEmpty) continue;
      AttendBlock b{.q_begin = qi * c, .q_end = (qi + 1) * c, .kv_origin = origin, .kv_begin = ki * c,
                    .kv_end = (ki + 1) * c};
      if (v.kind == BlockKind::kPartial) {
        b.masked = true;
        b.q_global = qg;
        b.kv_global = kg;
        b.masked_pairs = v.EffectivePairs(mask.causal());
      }
      blocks.push_back(b);
    }
  return blocks;
}

namespace {

bool AnyVisible(const Mask& mask, const Sharding& sh, int rank, int origin) {
  const int64_t c = sh.ChunkTokens();
  for (int qi = 0; qi < sh.ChunksPerRank(); ++qi)
    for (int ki = 0; ki < sh.ChunksPerRank(); ++ki) {
      const int64_t qg = sh.Chunk(rank, qi) * c, kg = sh.Chunk(origin, ki) * c;
      if (mask.Classify(qg, qg + c, kg, kg + c).visible > 0) return true;
    }
  return false;
}

std::vector<int> ComputeReach(const Mask& mask, const Sharding& sh) {
  const int w = sh.world();
  std::vector<int> reach(w, w - 1);
  if (mask.IsPlain()) return reach;
  for (int o = 0; o < w; ++o) {
    int t = w - 1;
    while (t > 0 && !AnyVisible(mask, sh, (o + t) % w, o)) --t;
    reach[o] = t;
  }
  return reach;
}

}  // namespace

std::shared_ptr<const std::vector<int>> RingReach(const Mask& mask, const Sharding& sh) {
  using Key = std::tuple<const void*, int64_t, int64_t, bool, int, int64_t, int>;
  static std::mutex mu;
  static Key cached_key;
  static std::shared_ptr<const std::vector<int>> cached;
  static std::shared_ptr<const std::vector<int64_t>> holder;
  const MaskShape& s = mask.shape();
  const Key key{s.documents.get(), s.window_left, s.window_right, mask.causal(), sh.world(), sh.seq(), int(sh.kind())};
  {
    std::lock_guard lock(mu);
    // The documents pointer identifies the cu_seqlens only while they are alive: `holder` keeps the cached mask's
    // documents alive, so a new vector can never reuse the address of the cached one.
    if (cached && key == cached_key) return cached;
  }
  auto reach = std::make_shared<const std::vector<int>>(ComputeReach(mask, sh));
  std::lock_guard lock(mu);
  cached_key = key;
  cached = reach;
  holder = s.documents;
  return reach;
}

}  // namespace ringlab
