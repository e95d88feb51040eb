// The timeline's overlays, drawn over the lanes inside the time area: links along the critical path, the selected op
// outlined with arrows from what it waits for and to what waits for it, its counterpart in the other trace (compare
// mode) outlined, and the selected time range shaded.
#include <algorithm>
#include <cmath>

#include "viz/views/timeline_parts.h"

namespace ringlab::viz {
namespace {

void Arrow(ImDrawList* dl, ImVec2 a, ImVec2 b, ImU32 col, float thick) {
  // A gentle curve from a to b with a head at b.
  ImVec2 c1(a.x + std::max(20.f, (b.x - a.x) * 0.5f), a.y), c2(b.x - std::max(20.f, (b.x - a.x) * 0.5f), b.y);
  dl->AddBezierCubic(a, c1, c2, b, col, thick);
  ImVec2 d(b.x - c2.x, b.y - c2.y);
  float n = std::sqrt(d.x * d.x + d.y * d.y);
  if (n < 1e-3f) return;
  d.x /= n, d.y /= n;
  ImVec2 p(-d.y, d.x);
  const float s = 7;
  dl->AddTriangleFilled(b, ImVec2(b.x - d.x * s + p.x * s * 0.5f, b.y - d.y * s + p.y * s * 0.5f),
                        ImVec2(b.x - d.x * s - p.x * s * 0.5f, b.y - d.y * s - p.y * s * 0.5f), col);
}

// Screen rectangles of events of A or B, from the frame's lane layout.
class EventRects {
 public:
  EventRects(const ViewerData& d, const ViewState& vs, const TimelineFrame& f) : d_(d), L_(vs.layout), f_(f) {}

  // Corners *a (top left) and *b (bottom right) of event `ev` of m; false when its lane has no row (a lane of B with
  // no partner in A).
  bool Of(const TraceModel& m, uint32_t ev, bool is_b, ImVec2* a, ImVec2* b) const {
    const Comparison* C = d_.cmp.get();
    const Event& e = m.events[ev];
    double shift = is_b && C ? C->start_shift_us : 0;
    float ly0 = is_b ? L_.lane_b_y0[e.lane] : L_.lane_y0[e.lane], ly1 = is_b ? L_.lane_b_y1[e.lane] : L_.lane_y1[e.lane];
    if (ly0 == TimelineLayout::kNoRow) return false;
    const int rows = 1 + std::min(m.lanes[e.lane].max_depth, 5);
    const float rh = (ly1 - ly0) / float(rows);
    const int row = std::min<int>(e.depth, rows - 1);
    *a = ImVec2(f_.X(e.ts - shift), ly0 + rh * row);
    *b = ImVec2(std::max(f_.X(e.End() - shift), a->x + 1), ly0 + rh * (row + 1));
    return true;
  }

 private:
  const ViewerData& d_;
  const TimelineLayout& L_;
  const TimelineFrame& f_;
};

// Critical path links, of A and (compare mode) of B.
void DrawCriticalLinks(ViewerData& d, const ViewState& vs, const TimelineFrame& f, const EventRects& rects) {
  for (const bool is_b : {false, true}) {
    if (!vs.critical_path || (is_b && !(d.b && d.cmp))) continue;
    const TraceGraph& g = d.Graph(is_b);
    const TraceModel& m = d.Model(is_b);
    for (size_t i = 1; g.critical_built && i < g.critical.size(); ++i) {
      ImVec2 pa, pb, qa, qb;
      if (!rects.Of(m, g.critical[i - 1], is_b, &pa, &pb) || !rects.Of(m, g.critical[i], is_b, &qa, &qb)) continue;
      if (std::max(pb.x, qa.x) < f.x0 || std::min(pb.x, qa.x) > f.x1) continue;
      f.dl->AddLine(ImVec2(pb.x, (pa.y + pb.y) / 2), ImVec2(qa.x, (qa.y + qb.y) / 2), IM_COL32(255, 235, 59, 200), 2);
    }
  }
}

// Selection (an op of A, or of B in compare mode) with dependency arrows within its trace, and its counterpart in
// the other trace outlined.
void DrawSelection(ViewerData& d, const ViewState& vs, const TimelineFrame& f, const EventRects& rects) {
  ImDrawList* dl = f.dl;
  const Comparison* C = d.cmp.get();
  const bool compare = d.b && C;
  const bool sel_b = vs.selected_b && compare;
  const TraceModel& SM = d.Model(sel_b);
  if (vs.selected < 0 || !(sel_b || !vs.selected_b) || size_t(vs.selected) >= SM.events.size()) return;
  ImVec2 sa, sb;
  const uint32_t sel = uint32_t(vs.selected);
  if (rects.Of(SM, sel, sel_b, &sa, &sb)) {
    dl->AddRect(ImVec2(sa.x - 1, sa.y - 1), ImVec2(sb.x + 1, sb.y + 1), IM_COL32(255, 255, 255, 255), 0, 0, 2.5f);
    DepGraph& g = d.Graph(sel_b).Deps(SM);
    for (const DepEdge& e : g.DepsOf(sel)) {
      ImVec2 a, b;
      if (rects.Of(SM, e.from, sel_b, &a, &b))
        Arrow(dl, ImVec2(b.x, (a.y + b.y) / 2), ImVec2(sa.x, (sa.y + sb.y) / 2), kDepArrowColor, 2);
    }
    for (const DepEdge& e : g.DependantsOf(sel)) {
      ImVec2 a, b;
      if (rects.Of(SM, e.to, sel_b, &a, &b))
        Arrow(dl, ImVec2(sb.x, (sa.y + sb.y) / 2), ImVec2(a.x, (a.y + b.y) / 2), kDependantArrowColor, 2);
    }
  }
  const int64_t other = !compare ? -1 : sel_b ? C->a_of_b[sel] : C->b_of_a[sel];
  ImVec2 a, b;
  if (other >= 0 && rects.Of(d.Model(!sel_b), uint32_t(other), !sel_b, &a, &b))
    dl->AddRect(ImVec2(a.x - 1, a.y - 1), ImVec2(b.x + 1, b.y + 1), IM_COL32(255, 255, 255, 255), 0, 0, 2.f);
}

// Every flow of A touching the view (at most kMaxFlows): a straight arrow from the start of the send (flow start) to
// the end of its recv (flow end). Straight lines: thousands of curves are slow under software GL.
void DrawFlows(ViewerData& d, const ViewState& vs, const TimelineFrame& f, const EventRects& rects) {
  if (!vs.show_flows) return;
  constexpr size_t kMaxFlows = 4000;
  static std::vector<Flow> visible;
  VisibleFlows(d.a, d.Flows(), vs.t0, vs.t1, kMaxFlows, &visible);
  for (const Flow& fl : visible) {
    ImVec2 a0, a1, b0, b1;
    if (!rects.Of(d.a, fl.from, false, &a0, &a1) || !rects.Of(d.a, fl.to, false, &b0, &b1)) continue;
    const ImVec2 p(a0.x, (a0.y + a1.y) / 2), q(b1.x, (b0.y + b1.y) / 2);
    f.dl->AddLine(p, q, kFlowColor, 1.2f);
    const float dx = q.x - p.x, dy = q.y - p.y, n = std::sqrt(dx * dx + dy * dy);
    if (n < 4) continue;
    const float ux = dx / n, uy = dy / n, s = 6;
    f.dl->AddTriangleFilled(q, ImVec2(q.x - ux * s - uy * s * 0.5f, q.y - uy * s + ux * s * 0.5f),
                            ImVec2(q.x - ux * s + uy * s * 0.5f, q.y - uy * s - ux * s * 0.5f), kFlowColor);
  }
}

}  // namespace

void DrawArrowsAndSelection(ViewerData& d, const ViewState& vs, const TimelineFrame& f) {
  const EventRects rects(d, vs, f);
  f.dl->PushClipRect(ImVec2(f.x0, f.view_y0), ImVec2(f.x1, f.view_y1), true);
  DrawFlows(d, vs, f, rects);
  DrawCriticalLinks(d, vs, f, rects);
  DrawSelection(d, vs, f, rects);
  if (vs.has_range)
    f.dl->AddRectFilled(ImVec2(f.X(vs.range_t0), f.view_y0), ImVec2(f.X(vs.range_t1), f.view_y1),
                        IM_COL32(120, 160, 255, 50));
  f.dl->PopClipRect();
}

}  // namespace ringlab::viz
