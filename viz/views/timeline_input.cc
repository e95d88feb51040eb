// The timeline's input and view operations: what the mouse is over (with its tooltip), wheel zoom, drag to pan,
// click to select, shift- or right-drag to select a time range, and the keys (arrows/WASD, F, Z, Escape).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "viz/views/timeline_parts.h"
#include "viz/views/views.h"

namespace ringlab::viz {
namespace {

std::string Rate(double num, double us, const char* unit, double scale) {
  if (us <= 0 || num <= 0) return "";
  char b[64];
  snprintf(b, sizeof b, "%.3g %s", num / (us * 1e-6) / scale, unit);
  return b;
}

void Tooltip(const TraceModel& m, uint32_t ev, const char* which) {
  const Event& e = m.events[ev];
  const Lane& l = m.lanes[e.lane];
  ImGui::BeginTooltip();
  ImGui::TextUnformatted(m.NameOf(e).c_str());
  ImGui::Separator();
  ImGui::Text("%s%s  kind %s", which, l.name.c_str(), std::string(VizKindName(e.kind)).c_str());
  ImGui::Text("duration %s  (start %s)", FormatDuration(e.dur).c_str(), FormatDuration(e.ts - m.t_min).c_str());
  if (e.bytes > 0)
    ImGui::Text("bytes %s  achieved %s", FormatBytes(double(e.bytes)).c_str(),
                Rate(double(e.bytes), e.dur, "GB/s", 1e9).c_str());
  if (e.flops > 0) ImGui::Text("FLOPs %.4g  achieved %s", e.flops, Rate(e.flops, e.dur, "TFLOP/s", 1e12).c_str());
  if (e.step >= 0 || e.peer >= 0 || e.op >= 0) ImGui::Text("op %d  step %d  peer %d", e.op, e.step, e.peer);
  if (e.kind == VizKind::kAllToAll)
    ImGui::TextUnformatted("Ulysses all-to-all: sequence <-> head shards among the rank's group (bytes: sent to the others)");
  ImGui::EndTooltip();
}

// Nesting row under screen y in a lane drawn from y0 to y1 (-1: the deepest, for the last row, which also shows
// anything nested deeper).
int RowAt(const TraceModel& m, int lane, float y0, float y1, float y) {
  const int rows = 1 + std::min(m.lanes[size_t(lane)].max_depth, 5);
  const int row = std::clamp(int((y - y0) / ((y1 - y0) / float(rows))), 0, rows - 1);
  return row == rows - 1 && m.lanes[size_t(lane)].max_depth > 5 ? -1 : row;
}

// Sets vs.hovered (and vs.hovered_b) to the op under the mouse at time tm, searching A's rows, then B's.
void FindHovered(const ViewerData& d, ViewState& vs, ImVec2 mp, double tm, double slack) {
  const TraceModel& A = d.a;
  const TimelineLayout& L = vs.layout;
  for (size_t li = 0; li < A.lanes.size() && vs.hovered < 0; ++li)
    if (mp.y >= L.lane_y0[li] && mp.y < L.lane_y1[li])
      vs.hovered = A.EventAt(int(li), tm, slack, RowAt(A, int(li), L.lane_y0[li], L.lane_y1[li], mp.y)),
      vs.hovered_b = false;
  if (!(d.b && d.cmp)) return;
  const TraceModel& B = *d.b;
  for (size_t lb = 0; lb < B.lanes.size() && vs.hovered < 0; ++lb)
    if (L.lane_b_y0[lb] != TimelineLayout::kNoRow && mp.y >= L.lane_b_y0[lb] && mp.y < L.lane_b_y1[lb])
      vs.hovered = B.EventAt(int(lb), tm + d.cmp->start_shift_us, slack,
                             RowAt(B, int(lb), L.lane_b_y0[lb], L.lane_b_y1[lb], mp.y)),
      vs.hovered_b = true;
}

// The hovered op's tooltip; for an op of A in compare mode, also its partner's duration in B.
void HoverTooltip(const ViewerData& d, const ViewState& vs) {
  const TraceModel* B = d.b.get();
  const Comparison* C = d.cmp.get();
  Tooltip(vs.hovered_b ? *B : d.a, uint32_t(vs.hovered), vs.hovered_b ? "B: " : "");
  if (B && C && !vs.hovered_b && C->b_of_a[size_t(vs.hovered)] >= 0) {
    ImGui::BeginTooltip();
    ImGui::Text("B: %s (%+.1f%%)", FormatDuration(B->events[size_t(C->b_of_a[size_t(vs.hovered)])].dur).c_str(),
                100 * C->rel_diff[size_t(vs.hovered)]);
    ImGui::EndTooltip();
  }
}

// Mouse over the time area: hover, tooltip, wheel zoom, and the start of a pan drag or a range drag.
void HandleMouseOver(const ViewerData& d, ViewState& vs, const TimelineFrame& f) {
  ImGuiIO& io = ImGui::GetIO();
  const ImVec2 mp = io.MousePos;
  const double tm = f.T(mp.x);
  FindHovered(d, vs, mp, tm, f.us_per_px * 2);
  if (vs.hovered >= 0 && !vs.dragging) HoverTooltip(d, vs);
  if (io.MouseWheel != 0) ZoomAround(vs, tm, std::pow(0.8, double(io.MouseWheel)));
  const bool range_mod = io.KeyShift;
  if (ImGui::IsMouseClicked(0) && !range_mod) {
    vs.dragging = true, vs.drag_x = mp.x, vs.drag_t0 = vs.t0, vs.drag_t1 = vs.t1;
  }
  if ((ImGui::IsMouseClicked(0) && range_mod) || ImGui::IsMouseClicked(1)) {
    vs.range_dragging = true, vs.drag_x = mp.x, vs.range_t0 = vs.range_t1 = tm, vs.has_range = false;
  }
}

// A pan drag follows the mouse (a click without movement selects); a range drag stretches the range.
void FollowDrags(ViewState& vs, const TimelineFrame& f) {
  const ImVec2 mp = ImGui::GetIO().MousePos;
  if (vs.dragging) {
    float dx = mp.x - vs.drag_x;
    vs.t0 = vs.drag_t0 - dx * f.us_per_px, vs.t1 = vs.drag_t1 - dx * f.us_per_px;
    if (!ImGui::IsMouseDown(0)) {
      vs.dragging = false;
      if (std::abs(dx) < 3) {  // a click, not a drag
        vs.t0 = vs.drag_t0, vs.t1 = vs.drag_t1;
        vs.selected = vs.hovered, vs.selected_b = vs.hovered_b;
      }
    }
  }
  if (vs.range_dragging) {
    double a = f.T(vs.drag_x), b = f.T(mp.x);
    vs.range_t0 = std::min(a, b), vs.range_t1 = std::max(a, b);
    vs.has_range = vs.range_t1 - vs.range_t0 > f.us_per_px * 3;
    if (!ImGui::IsMouseDown(0) && !ImGui::IsMouseDown(1)) vs.range_dragging = false;
  }
}

void HandleKeys(const ViewerData& d, ViewState& vs) {
  auto key = [](int k) { return k >= 0 && k < 512 && ImGui::IsKeyPressed(k); };
  const double centre = (vs.t0 + vs.t1) / 2;
  if (key(ImGui::GetKeyIndex(ImGuiKey_LeftArrow)) || key('A')) Pan(vs, -0.2);
  if (key(ImGui::GetKeyIndex(ImGuiKey_RightArrow)) || key('D')) Pan(vs, 0.2);
  if (key(ImGui::GetKeyIndex(ImGuiKey_UpArrow)) || key('W')) ZoomAround(vs, centre, 0.7);
  if (key(ImGui::GetKeyIndex(ImGuiKey_DownArrow)) || key('S')) ZoomAround(vs, centre, 1 / 0.7);
  if (key('F')) FitAll(d, vs);
  if (key('Z')) ZoomToSelection(d, vs);
  if (key(ImGui::GetKeyIndex(ImGuiKey_Escape))) vs.selected = -1, vs.has_range = false;
}

}  // namespace

void HandleTimelineInput(ViewerData& d, ViewState& vs, const TimelineFrame& f) {
  const bool hovered = ImGui::IsWindowHovered();
  const ImVec2 mp = ImGui::GetIO().MousePos;
  vs.hovered = -1;
  if (hovered && mp.x >= f.x0 && mp.x <= f.x1 && mp.y >= f.view_y0) HandleMouseOver(d, vs, f);
  FollowDrags(vs, f);
  if (ImGui::IsWindowFocused() && !ImGui::GetIO().WantTextInput) HandleKeys(d, vs);
}

void FitAll(const ViewerData& d, ViewState& vs) {
  double t0 = d.a.t_min, t1 = d.a.t_max;
  if (d.b && d.cmp) t1 = std::max(t1, d.b->t_max - d.cmp->start_shift_us);
  if (!(t1 > t0)) t1 = t0 + std::max(1.0, std::abs(t0) * 1e-9);  // +1 alone is lost far from zero
  double pad = (t1 - t0) * 0.01;
  vs.t0 = t0 - pad, vs.t1 = t1 + pad;
}

void ZoomToSelection(const ViewerData& d, ViewState& vs) {
  if (vs.has_range && vs.range_t1 > vs.range_t0) {
    vs.t0 = vs.range_t0, vs.t1 = vs.range_t1;
    return;
  }
  if (vs.selected < 0) return;
  const TraceModel& m = vs.selected_b && d.b ? *d.b : d.a;
  if (size_t(vs.selected) >= m.events.size()) return;
  const Event& e = m.events[size_t(vs.selected)];
  double shift = vs.selected_b && d.cmp ? d.cmp->start_shift_us : 0;
  double pad = std::max(e.dur * 0.25, 1e-3);
  vs.t0 = e.ts - shift - pad, vs.t1 = e.End() - shift + pad;
}

void ZoomAround(ViewState& vs, double t, double f) {
  double span = (vs.t1 - vs.t0) * f;
  span = std::clamp(span, 1e-4, 1e13);
  double frac = (vs.t1 > vs.t0) ? (t - vs.t0) / (vs.t1 - vs.t0) : 0.5;
  vs.t0 = t - frac * span;
  vs.t1 = vs.t0 + span;
}

void Pan(ViewState& vs, double fraction) {
  double dt = (vs.t1 - vs.t0) * fraction;
  vs.t0 += dt, vs.t1 += dt;
}

void SelectEvent(ViewerData& d, ViewState& vs, int64_t event, bool zoom, bool in_b) {
  in_b = in_b && d.b && d.cmp;
  vs.selected = event;
  vs.selected_b = in_b;
  if (zoom && event >= 0) {
    // Keep the zoom level when the op fits, else zoom out to show it. B is drawn shifted to start with A.
    const Event& e = d.Model(in_b).events[size_t(event)];
    const double shift = in_b ? d.cmp->start_shift_us : 0;
    double span = std::max(vs.t1 - vs.t0, e.dur * 4);
    vs.t0 = e.ts - shift + e.dur / 2 - span / 2, vs.t1 = vs.t0 + span;
  }
}

}  // namespace ringlab::viz
