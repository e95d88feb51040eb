// The viewer's panels: small functions that draw ViewerData with ImGui, reading and updating a ViewState.
//
//   ViewerData data;  LoadTraceFiles({"run.json"}, &data.a);  data.Init();
//   ViewState vs;
//   // each frame, inside an ImGui frame:
//   DrawViewerFrame(data, vs, ImGui::GetIO().DisplaySize);
#pragma once

#include "viz/views/view_state.h"

namespace ringlab::viz {

// Toolbar with buttons, toggles and the search box.
void DrawToolbar(ViewerData& d, ViewState& vs);
// Colour legend of the op kinds present.
void DrawLegend(const ViewerData& d, const ViewState& vs);
// Lanes, axis, events, arrows, tooltips; handles zoom/pan/select. Fills vs.layout.
void DrawTimeline(ViewerData& d, ViewState& vs, ImVec2 size);
// Per-rank statistics of the selected range (or the visible one) and the run summary.
void DrawStats(ViewerData& d, ViewState& vs);
// Per-name table (count, total, mean, p50, p99) of the selected or visible range.
void DrawNameStats(ViewerData& d, ViewState& vs);
// Iterations found in A with their step times; a click zooms to one.
void DrawIterations(ViewerData& d, ViewState& vs);
// Error table per op kind of the comparison.
void DrawCompare(const ViewerData& d, const ViewState& vs);
// Search hits and the selected op with its dependencies.
void DrawSearch(ViewerData& d, ViewState& vs);
void DrawSelection(ViewerData& d, ViewState& vs);

// The whole window: toolbar, legend, timeline and the bottom panels, filling `size` from (0,0).
void DrawViewerFrame(ViewerData& d, ViewState& vs, ImVec2 size);

// View operations (also bound to keys: F, Z, arrows, W/S, A/D).
void FitAll(const ViewerData& d, ViewState& vs);
void ZoomToSelection(const ViewerData& d, ViewState& vs);
void ZoomAround(ViewState& vs, double t, double factor);  // factor < 1 zooms in
void Pan(ViewState& vs, double fraction);
// Selects `event` of A, or of B when `in_b` (compare mode); `zoom` brings it into view.
void SelectEvent(ViewerData& d, ViewState& vs, int64_t event, bool zoom, bool in_b = false);

}  // namespace ringlab::viz
