// Far-out coverage runs (CoverageRuns, model.h) cached between frames in chunks of columns on a grid fixed in time,
// so panning recomputes only the columns that came into view. No ImGui.
//
// Zoomed out on a 1M-op trace, building every lane's coverage took 4-6 ms of each frame's CPU on the drawing thread,
// before the rasteriser could start. Column k of a lane covers [origin + k * us_per_px, origin + (k + 1) *
// us_per_px) whatever the visible range, and columns are computed kChunk at a time and kept while the zoom level
// stays, so a pan by a few pixels reuses every chunk still on screen. A zoom changes us_per_px and starts afresh.
// Runs of one kind that meet at a chunk boundary are joined, so the rasteriser gets no extra rectangles.
//
//   CoverageCache cache;  // one per model, reset when the model changes
//   double shift_px;
//   const auto& runs = cache.Runs(model, lane, rows, model.t_min, t0, us_per_px, columns, &shift_px);
//   // run columns are relative to the grid column containing t0; draw column c at x0 + c - shift_px
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "viz/model.h"

namespace ringlab::viz {

class CoverageCache {
 public:
  static constexpr int kChunk = 64;  // columns per cached piece
  // Runs of `lane` covering at least `columns` columns from the grid column holding t0. *shift_px gets where t0 lies
  // inside that column, in [0, 1) pixels. The reference stays valid until the next call.
  const std::vector<CoverageRun>& Runs(const TraceModel& m, int lane, int rows, double origin, double t0,
                                       double us_per_px, int columns, double* shift_px);
  // Forgets everything (the model changed).
  void Clear();
  // Chunks computed since construction or Clear (for tests and benchmarks).
  int64_t chunks_computed() const { return chunks_computed_; }

 private:
  struct LaneChunks {
    int rows = 0;
    std::map<int64_t, std::vector<CoverageRun>> chunks;  // chunk index -> runs, columns relative to the chunk
  };
  const TraceModel* model_ = nullptr;
  double origin_ = 0, us_per_px_ = 0;
  std::vector<LaneChunks> lanes_;
  std::vector<CoverageRun> out_;
  int64_t chunks_computed_ = 0;
};

}  // namespace ringlab::viz
