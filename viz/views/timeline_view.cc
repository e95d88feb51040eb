// The timeline panel: measures the frame, then draws its parts in order (timeline_parts.h says which file has which).
#include <algorithm>

#include "viz/views/timeline_parts.h"
#include "viz/views/views.h"

namespace ringlab::viz {
namespace {

TimelineFrame MeasureFrame(const ViewState& vs) {
  TimelineFrame f;
  f.dl = ImGui::GetWindowDrawList();
  f.wpos = ImGui::GetWindowPos();
  f.wsize = ImGui::GetWindowSize();
  f.scroll_y = ImGui::GetScrollY();
  f.x0 = f.wpos.x + vs.label_width, f.x1 = f.wpos.x + f.wsize.x - 14;
  f.width = std::max(1.f, f.x1 - f.x0);
  f.span = std::max(vs.t1 - vs.t0, 1e-9);
  f.us_per_px = f.span / f.width;
  f.view_y0 = f.wpos.y + f.axis_h, f.view_y1 = f.wpos.y + f.wsize.y;
  f.vs = &vs;
  return f;
}

}  // namespace

void DrawTimeline(ViewerData& d, ViewState& vs, ImVec2 size) {
  if (vs.fit_request) {
    FitAll(d, vs);
    vs.fit_request = false;
  }
  ImGui::BeginChild("timeline", size, true, ImGuiWindowFlags_NoMove);
  if (!vs.label_width_measured) {
    vs.label_width = MeasureLabelWidth(d, ImGui::GetWindowSize().x);
    vs.label_width_measured = true;
  }
  const TimelineFrame f = MeasureFrame(vs);
  const std::vector<RankHeader> headers = LayoutLanes(d, vs, f);
  // Everything below the axis shares one clip rectangle (labels and ops are clipped on the CPU).
  f.dl->PushClipRect(ImVec2(f.wpos.x, f.view_y0), ImVec2(f.wpos.x + f.wsize.x, f.view_y1), true);
  DrawGridLines(d, f);
  DrawRankHeaders(f, headers);
  DrawLanes(d, vs, f);
  DrawCounters(d, vs, f);
  DrawArrowsAndSelection(d, vs, f);
  f.dl->PopClipRect();
  DrawTimeAxis(d, vs, f);  // last, on top
  HandleTimelineInput(d, vs, f);
  ImGui::EndChild();
}

}  // namespace ringlab::viz
