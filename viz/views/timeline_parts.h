// The timeline panel's parts, one file each: lanes (timeline_lanes.cc: layout, rank headers, level-of-detail blocks),
// the time axis and grid (timeline_axis.cc), arrows and selection overlays (timeline_arrows.cc) and input
// (timeline_input.cc: hover, tooltips, zoom, pan, selection, keys). DrawTimeline (timeline_view.cc) measures the frame
// and calls them in drawing order. Internal to the views library.
#pragma once

#include <vector>

#include "viz/views/view_state.h"

namespace ringlab::viz {

// Where one frame of the timeline draws: the child window, the time area and the time scale.
struct TimelineFrame {
  ImDrawList* dl = nullptr;
  ImVec2 wpos, wsize;  // the timeline's child window
  float scroll_y = 0;
  float axis_h = 22;
  float x0 = 0, x1 = 0, width = 1;  // the time area, screen x
  float view_y0 = 0, view_y1 = 0;   // below the axis to the bottom of the window
  double span = 0, us_per_px = 0;
  // The view's start is read live: input moves it while a frame is handled.
  const ViewState* vs = nullptr;

  float X(double t) const { return float(x0 + (t - vs->t0) / us_per_px); }
  double T(float x) const { return vs->t0 + double(x - x0) * us_per_px; }
};

// A rank's header bar: screen y of its top, and the rank.
struct RankHeader {
  float y;
  int rank;
};

// Lanes (timeline_lanes.cc). LayoutLanes fills vs.layout (rows of A, and of B under their partners in compare mode),
// reserves the scroll height and returns where the rank headers go.
std::vector<RankHeader> LayoutLanes(const ViewerData& d, ViewState& vs, const TimelineFrame& f);
void DrawRankHeaders(const TimelineFrame& f, const std::vector<RankHeader>& headers);
// Width of the label column that shows every lane label whole (at least 150 px, at most 40 % of the window).
float MeasureLabelWidth(const ViewerData& d, float window_w);
// Counter tracks (timeline_counters.cc): label, background and the values as a step line, scaled per track.
void DrawCounters(const ViewerData& d, const ViewState& vs, const TimelineFrame& f);
// Every lane's label, background and ops (coverage runs far out, blocks nearer in); sets vs.blocks_drawn.
void DrawLanes(ViewerData& d, ViewState& vs, const TimelineFrame& f);

// Time axis (timeline_axis.cc): vertical grid lines under the lanes, and the labelled axis bar on top.
void DrawGridLines(const ViewerData& d, const TimelineFrame& f);
void DrawTimeAxis(const ViewerData& d, ViewState& vs, const TimelineFrame& f);

// Overlays (timeline_arrows.cc): every visible flow of A (the Flows toggle), critical-path links, the selection with its dependency arrows, its counterpart in
// the other trace, and the selected time range.
void DrawArrowsAndSelection(ViewerData& d, const ViewState& vs, const TimelineFrame& f);

// Input (timeline_input.cc): hover and tooltips, wheel zoom, drag pan, click select, range drag, keys.
void HandleTimelineInput(ViewerData& d, ViewState& vs, const TimelineFrame& f);

}  // namespace ringlab::viz
