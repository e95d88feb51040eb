#include "viz/coverage_cache.h"

#include <cmath>

namespace ringlab::viz {

void CoverageCache::Clear() {
  model_ = nullptr;
  lanes_.clear();
  us_per_px_ = 0;
}

const std::vector<CoverageRun>& CoverageCache::Runs(const TraceModel& m, int lane, int rows, double origin, double t0,
                                                    double us_per_px, int columns, double* shift_px) {
  out_.clear();
  *shift_px = 0;
  if (lane < 0 || size_t(lane) >= m.lanes.size() || columns <= 0 || !(us_per_px > 0)) return out_;
  // A pan moves t0 and t1 by the same amount, which can change their difference in the last bits: a relative change
  // below 1e-9 is the same zoom level (and keeps the old grid, so the picture does not shift).
  if (model_ != &m || origin != origin_ || std::abs(us_per_px - us_per_px_) > 1e-9 * us_per_px_) {
    Clear();
    model_ = &m, origin_ = origin, us_per_px_ = us_per_px;
  }
  lanes_.resize(m.lanes.size());
  LaneChunks& lc = lanes_[size_t(lane)];
  if (lc.rows != rows) lc.chunks.clear(), lc.rows = rows;
  const double pos = (t0 - origin_) / us_per_px_;
  // Zoomed far in, far from the origin: column numbers would not fit the grid's integers (nor be exact). Draw none.
  if (!(std::abs(pos) < 0x1p52)) return out_;
  const int64_t k0 = int64_t(std::floor(pos));
  *shift_px = pos - double(k0);
  const int64_t k_end = k0 + columns + 1;  // one more column: t0 may lie inside the first
  const int64_t c_first = int64_t(std::floor(double(k0) / kChunk)), c_last = int64_t(std::floor(double(k_end - 1) / kChunk));
  // Keep a few chunks either side (a pan back reuses them), forget the rest.
  lc.chunks.erase(lc.chunks.begin(), lc.chunks.lower_bound(c_first - 4));
  lc.chunks.erase(lc.chunks.upper_bound(c_last + 4), lc.chunks.end());
  int last_at[8];
  std::fill(std::begin(last_at), std::end(last_at), -1);
  for (int64_t c = c_first; c <= c_last; ++c) {
    auto it = lc.chunks.find(c);
    if (it == lc.chunks.end()) {
      std::vector<CoverageRun> runs;
      CoverageRuns(m, lane, rows, origin_ + double(c * kChunk) * us_per_px_, us_per_px_, kChunk, &runs);
      it = lc.chunks.emplace(c, std::move(runs)).first;
      ++chunks_computed_;
    }
    const int64_t base = c * kChunk - k0;  // chunk column 0, relative to the grid column holding t0
    for (CoverageRun r : it->second) {
      r.c0 = int(std::max<int64_t>(base + r.c0, 0)), r.c1 = int(std::min<int64_t>(base + r.c1, k_end - k0));
      if (r.c1 <= r.c0) continue;
      const int row = std::min<int>(r.row, 7);
      // Join a run to the previous one of its row when they meet with the same look (split only by the chunk grid).
      if (last_at[row] >= 0) {
        CoverageRun& p = out_[size_t(last_at[row])];
        if (p.c1 == r.c0 && p.kind == r.kind && p.single == r.single) {
          p.c1 = r.c1;
          continue;
        }
      }
      last_at[row] = int(out_.size());
      out_.push_back(r);
    }
  }
  return out_;
}

}  // namespace ringlab::viz
