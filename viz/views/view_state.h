// Plain view state shared by the panels, and the colours. The panels draw with ImGui only (no backend calls), so
// tests run them with an ImGui context and no window.
#pragma once

#include <imgui.h>

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "viz/compare.h"
#include "viz/coverage_cache.h"
#include "viz/deps.h"
#include "viz/flows.h"
#include "viz/iterations.h"
#include "viz/model.h"
#include "viz/name_stats.h"
#include "viz/stats.h"
#include "viz/stats_index.h"

namespace ringlab::viz {

// Colour of an op kind (legend and lanes), and of a relative difference (blue faster .. grey .. red slower).
ImU32 KindColor(VizKind k);
ImU32 DiffColor(float rel);
// The same colours as RGB bytes, for screenshot tests.
void KindRgb(VizKind k, uint8_t rgb[3]);

// Selection arrows: into the selected op from what it waits for, and out of it to what waits for it.
inline constexpr ImU32 kDepArrowColor = IM_COL32(80, 255, 120, 255);
inline constexpr ImU32 kDependantArrowColor = IM_COL32(255, 170, 60, 255);
// Message flows (the Flows toggle).
inline constexpr ImU32 kFlowColor = IM_COL32(120, 220, 255, 230);
// Outline of ops on the critical path, and the links between them.
inline constexpr ImU32 kCriticalColor = IM_COL32(255, 235, 59, 255);

// The viewer's window draws no background of its own: the app clears the framebuffer to this colour instead (the
// dark style's window background over the old clear colour, so pixels are unchanged). Under software GL (llvmpipe)
// a full-window blended quad costs about as much as everything else in a frame together; a clear is nearly free.
inline constexpr float kViewerBackground[3] = {0.0618f, 0.0618f, 0.0624f};

// Where the last frame put things, for hit tests and screenshot checks.
struct TimelineLayout {
  float x0 = 0, x1 = 0;                 // time area in screen pixels
  double t0 = 0, t1 = 0;                // its time range
  std::vector<float> lane_y0, lane_y1;  // per lane of A (rows of B in compare mode follow each A row)
  std::vector<float> lane_b_y0, lane_b_y1;  // kNoRow for a lane of B with no partner lane in A (not drawn)
  std::vector<float> counter_y0, counter_y1;  // per counter track of A
  static constexpr float kNoRow = -1e30f;
  float axis_y0 = 0, axis_y1 = 0;
};

struct ViewState {
  // Visible time range (microseconds, trace clock of A).
  double t0 = 0, t1 = 1;
  bool fit_request = true;
  // Selection: one event of A (or of B when selected_b).
  int64_t selected = -1;
  bool selected_b = false;
  int64_t hovered = -1;
  bool hovered_b = false;
  // A time range selected by shift-drag or right-drag: statistics use it, Z zooms to it.
  bool has_range = false;
  double range_t0 = 0, range_t1 = 0;
  // Panels.
  bool show_stats = true, show_legend = true, show_search = true, show_compare = true;
  bool critical_path = false;
  bool show_flows = false;  // arrows of every visible flow (send -> recv), not only the selection's
  std::string select_tab;   // a bottom tab to bring to the front on the next frame ("Names", "Iterations", ...)
  bool diff_colours = true;  // compare mode: colour B's ops by difference to A
  char search[128] = "";
  // Look.
  float lane_height = 20, label_width = 150, min_px = 2, rank_gap = 6;
  // The label column is made as wide as the longest lane label (at most 40 % of the window) on the first frame.
  bool label_width_measured = false;
  // Interaction state.
  bool dragging = false, range_dragging = false;
  float drag_x = 0;
  double drag_t0 = 0, drag_t1 = 0;
  TimelineLayout layout;
  int64_t blocks_drawn = 0;  // last frame, for benchmarks
  // Set by the app: a draw-list callback that turns blending off. The lanes' rectangles are all opaque and cover
  // most of the window, so they are drawn without blending (under software GL blending is a good part of each
  // pixel's cost), then the backend's render state is reset for text and outlines. Null (headless tests): unused.
  ImDrawCallback opaque_begin = nullptr;
};

// Dependencies and the critical path of one trace, built on first use.
struct TraceGraph {
  std::unique_ptr<DepGraph> deps;
  std::vector<uint32_t> critical, critical_sorted;  // first-to-last, and sorted for lookups
  bool critical_built = false;
  DepGraph& Deps(const TraceModel& m);
  void EnsureCritical(const TraceModel& m);
  bool OnCritical(uint32_t e) const;  // false until the path is built
  void Reset();
};

// Caches derived from the models that panels reuse between frames.
struct ViewerData {
  TraceModel a;
  std::unique_ptr<TraceModel> b;  // compare mode
  std::unique_ptr<Comparison> cmp;
  CompareOptions compare_options;  // which iterations Init compares
  // Dependencies and critical path of A, and of B in compare mode (built on demand).
  TraceGraph graph_a, graph_b;
  // Search hits of A for `searched`.
  std::string searched;
  std::vector<uint32_t> hits, hits_sorted;
  // Statistics of the last window shown, recomputed only when the window changes. They come from a StatsIndex (a
  // few microseconds per window), built once on a worker thread after loading so the first frame does not wait for
  // it (async_stats = false builds it in Init, for tests).
  WindowStats stats;
  double stats_t0 = 0, stats_t1 = -1;
  bool async_stats = true;
  std::unique_ptr<StatsIndex> stats_index;
  std::future<std::unique_ptr<StatsIndex>> stats_index_job;
  // Far-out coverage of A's and B's lanes, kept between frames while the zoom level stays.
  CoverageCache coverage_a, coverage_b;
  bool kinds_present[kVizKindCount] = {};
  RunInfo run;
  IterationTable iterations;
  // Message flows of A for the flow toggle, built on first use.
  std::unique_ptr<FlowSet> flows;
  const FlowSet& Flows();
  // Per-name statistics of the window shown, computed on a worker thread when the window changes (async_stats).
  std::vector<NameStats> names;
  double names_t0 = 0, names_t1 = -1;
  std::future<std::vector<NameStats>> names_job;
  double names_job_t0 = 0, names_job_t1 = -1;
  // The rows for [t0, t1]: the last finished ones, starting a job for this window when none runs. True when they
  // are for this window.
  bool NameRows(double t0, double t1);

  void Init();  // after a/b are loaded
  // The statistics index, once built (nullptr while the worker is still building it).
  const StatsIndex* Stats();
  bool StatsPending() const { return stats_index_job.valid(); }
  void EnsureCritical();  // of A, and of B when comparing
  // The graph of B when `b` (and B is loaded), else of A; and that model.
  TraceGraph& Graph(bool b) { return b && this->b ? graph_b : graph_a; }
  const TraceModel& Model(bool b) const { return b && this->b ? *this->b : a; }
  void EnsureSearch(const char* text);
  bool IsHit(uint32_t e) const;
};

}  // namespace ringlab::viz
