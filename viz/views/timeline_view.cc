// The timeline panel: time axis, lanes grouped by rank, level-of-detail blocks, arrows, tooltips and input.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "viz/views/views.h"

namespace ringlab::viz {
namespace {

double NiceStep(double raw) {
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

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
  ImGui::EndTooltip();
}

// Nesting row under screen y in a lane drawn from y0 to y1 (-1: the deepest, for the last row, which also shows
// anything nested deeper).
int RowAt(const TraceModel& m, int lane, float y0, float y1, float y) {
  const int rows = 1 + std::min(m.lanes[size_t(lane)].max_depth, 5);
  const int row = std::clamp(int((y - y0) / ((y1 - y0) / float(rows))), 0, rows - 1);
  return row == rows - 1 && m.lanes[size_t(lane)].max_depth > 5 ? -1 : row;
}

}  // namespace

void FitAll(const ViewerData& d, ViewState& vs) {
  double t0 = d.a.t_min, t1 = d.a.t_max;
  if (d.b && d.cmp) t1 = std::max(t1, d.b->t_max - d.cmp->start_shift_us);
  if (!(t1 > t0)) t1 = t0 + 1;
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

void DrawTimeline(ViewerData& d, ViewState& vs, ImVec2 size) {
  const TraceModel& A = d.a;
  const TraceModel* B = d.b.get();
  const Comparison* C = d.cmp.get();
  if (vs.fit_request) {
    FitAll(d, vs);
    vs.fit_request = false;
  }
  ImGui::BeginChild("timeline", size, true, ImGuiWindowFlags_NoMove);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 wpos = ImGui::GetWindowPos();
  const ImVec2 wsize = ImGui::GetWindowSize();
  const float scroll_y = ImGui::GetScrollY();
  const float axis_h = 22;
  const float x0 = wpos.x + vs.label_width, x1 = wpos.x + wsize.x - 14;
  const float width = std::max(1.f, x1 - x0);
  const double span = std::max(vs.t1 - vs.t0, 1e-9);
  const double us_per_px = span / width;
  auto X = [&](double t) { return float(x0 + (t - vs.t0) / us_per_px); };
  auto T = [&](float x) { return vs.t0 + double(x - x0) * us_per_px; };
  const float top = wpos.y + axis_h + 4;
  const float view_y0 = wpos.y + axis_h, view_y1 = wpos.y + wsize.y;

  // Lane positions (content coordinates follow scrolling).
  TimelineLayout& L = vs.layout;
  L.x0 = x0, L.x1 = x1, L.t0 = vs.t0, L.t1 = vs.t1;
  L.lane_y0.assign(A.lanes.size(), 0);
  L.lane_y1.assign(A.lanes.size(), 0);
  L.lane_b_y0.assign(B ? B->lanes.size() : 0, TimelineLayout::kNoRow);
  L.lane_b_y1.assign(B ? B->lanes.size() : 0, TimelineLayout::kNoRow);
  float y = top - scroll_y;
  std::vector<std::pair<float, int>> rank_headers;
  for (size_t li = 0; li < A.lanes.size(); ++li) {
    const Lane& l = A.lanes[li];
    if (li == 0 || A.lanes[li - 1].rank != l.rank) {
      if (li) y += vs.rank_gap;
      rank_headers.push_back({y, l.rank});
      y += 15;
    }
    const float h = vs.lane_height * float(1 + std::min(l.max_depth, 5)) * (l.max_depth ? 0.6f : 1.f);
    L.lane_y0[li] = y, L.lane_y1[li] = y + h;
    y += h + 2;
    if (B && C && C->lane_b_of_a[li] >= 0) {
      int lb = C->lane_b_of_a[li];
      L.lane_b_y0[size_t(lb)] = y, L.lane_b_y1[size_t(lb)] = y + h;
      y += h + 4;
    }
  }
  const float content_h = y + scroll_y - wpos.y + 8;
  ImGui::Dummy(ImVec2(wsize.x - 20, content_h - ImGui::GetCursorPosY()));

  dl->PushClipRect(ImVec2(wpos.x, view_y0), ImVec2(wpos.x + wsize.x, view_y1), true);
  // Grid lines and rank headers.
  const double step = NiceStep(us_per_px * 90);
  const double origin = A.t_min;
  for (double t = std::floor((vs.t0 - origin) / step) * step + origin; t <= vs.t1; t += step)
    dl->AddLine(ImVec2(X(t), view_y0), ImVec2(X(t), view_y1), IM_COL32(255, 255, 255, 22));
  for (auto [hy, rank] : rank_headers) {
    char b[32];
    snprintf(b, sizeof b, "rank %d", rank);
    dl->AddRectFilled(ImVec2(wpos.x, hy), ImVec2(wpos.x + wsize.x, hy + 14), IM_COL32(60, 60, 70, 255));
    dl->AddText(ImVec2(wpos.x + 4, hy), IM_COL32(230, 230, 230, 255), b);
  }
  // Lanes: opaque rectangles in channel 0 (drawn without blending when the app allows), text and outlines in
  // channel 1 on top.
  dl->ChannelsSplit(2);
  dl->ChannelsSetCurrent(1);
  if (vs.opaque_begin) dl->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
  dl->ChannelsSetCurrent(0);
  if (vs.opaque_begin) dl->AddCallback(vs.opaque_begin, nullptr);
  std::vector<LodBlock> blocks;
  int64_t drawn = 0;
  // Every lane is drawn under one clip rectangle (the time area): per-lane and per-label clip rectangles each started
  // a new draw call (38-332 a frame), each validated and binned on its own by software GL. Text is clipped on the CPU
  // instead (AddText's fine clip rectangle).
  const ImU32 lane_bg = IM_COL32(38, 38, 44, 255);
  ImFont* font = ImGui::GetFont();
  const float font_size = ImGui::GetFontSize();
  auto blend = [](ImU32 fg, ImU32 bg, unsigned a) {  // fg over bg with alpha a/255, opaque result
    ImU32 r = 0xFF000000u;
    for (int sh = 0; sh < 24; sh += 8) {
      unsigned f = (fg >> sh) & 0xFF, b = (bg >> sh) & 0xFF;
      r |= ImU32((f * a + b * (255 - a) + 127) / 255) << sh;
    }
    return r;
  };
  auto draw_lane = [&](const TraceModel& m, int li, float ly0, float ly1, double shift, bool is_b) {
    if (ly1 < view_y0 || ly0 > view_y1) return;
    const Lane& l = m.lanes[size_t(li)];
    std::string label = (is_b ? "B " : (B ? "A " : "")) + l.name;
    const ImVec4 label_clip(wpos.x, std::max(ly0, view_y0), x0 - 4, std::min(ly1, view_y1));
    dl->ChannelsSetCurrent(1);
    dl->AddText(font, font_size, ImVec2(wpos.x + 6, ly0 + 2), IM_COL32(220, 220, 220, 255), label.c_str(), nullptr,
                0, &label_clip);
    dl->ChannelsSetCurrent(0);
    const int rows = 1 + std::min(l.max_depth, 5);
    const float row_h = (ly1 - ly0) / float(rows);
    // One background rectangle per lane, ops on top. (Filling only the gaps between ops saves pixels but costs more
    // triangles than it saves when zoomed out, where gaps are a few pixels wide.)
    dl->AddRectFilled(ImVec2(x0, ly0), ImVec2(x1, ly1), lane_bg);
    // Far out (on average more than kCoverageEventsPerPx events start in each pixel column of a lane), the
    // lane is drawn from per-column coverage: one rectangle per run of columns of one dominant kind. Building is
    // O(columns), not O(visible events), and the rasteriser gets a few hundred rectangles per lane at most instead
    // of thousands of 2-pixel blocks. Nearer in, nothing changes: blocks below.
    constexpr double kCoverageEventsPerPx = 4;
    const bool coverage = !(is_b && C && vs.diff_colours) &&
                          EventsStartingIn(m, li, vs.t0 + shift, vs.t1 + shift) > kCoverageEventsPerPx * width;
    if (coverage) {
      // Cached per chunk of columns on a grid fixed in time (coverage_cache.h): a pan computes only the new columns.
      // Run columns count from the grid column holding the view's start, which lies shift_px into it.
      double shift_px = 0;
      const std::vector<CoverageRun>& runs = (is_b ? d.coverage_b : d.coverage_a)
          .Runs(m, li, rows, m.t_min, vs.t0 + shift, us_per_px, int(std::ceil(width)), &shift_px);
      for (const CoverageRun& r : runs) {
        ImU32 col = KindColor(r.kind);
        if (!r.single) col = blend(col, lane_bg, 0xB0);  // folded: the look of folded blocks
        const float rx0 = std::max(x0, x0 + float(double(r.c0) - shift_px));
        const float rx1 = std::min(x0 + float(double(r.c1) - shift_px), x1);
        if (rx1 <= rx0) continue;
        dl->AddRectFilled(ImVec2(rx0, ly0 + r.row * row_h + 1), ImVec2(std::max(rx1, rx0 + 1), ly0 + (r.row + 1) * row_h - 1),
                          col);
        ++drawn;
      }
      return;
    }
    VisibleBlocks(m, li, vs.t0 + shift, vs.t1 + shift, us_per_px, vs.min_px, &blocks);
    // Neighbouring blocks of one colour that touch (within a pixel) are drawn as one rectangle: zoomed out, thousands
    // of 2-pixel blocks become fewer rectangles; llvmpipe's per-triangle setup is a large part of a zoomed-out frame.
    struct Run {
      float x0, x1;
      ImU32 col;
      bool tiny = false, open = false;
    } run[6];
    auto flush = [&](int r) {
      if (!run[r].open) return;
      dl->AddRectFilled(ImVec2(run[r].x0, ly0 + r * row_h + 1), ImVec2(run[r].x1, ly0 + (r + 1) * row_h - 1), run[r].col);
      run[r].open = false;
    };
    for (const LodBlock& b : blocks) {
      float bx0 = std::max(X(b.t0 - shift), x0), bx1 = std::min(X(b.t1 - shift), x1);
      if (bx1 - bx0 < 1) bx1 = bx0 + 1;
      const int row = std::min<int>(b.depth, rows - 1);
      const float by0 = ly0 + row * row_h + 1, by1 = ly0 + (row + 1) * row_h - 1;
      ImU32 col = KindColor(b.kind);
      if (is_b && C && vs.diff_colours && b.count == 1) {
        int64_t ai = C->a_of_b[b.first];
        if (ai >= 0) col = DiffColor(C->rel_diff[size_t(ai)]);
      }
      if (b.count > 1) col = blend(col, lane_bg, 0xB0);  // the old translucent look, opaque: runs can merge
      ++drawn;
      const bool labelled = b.count == 1 && bx1 - bx0 > 30;
      const bool critical = b.count == 1 && vs.critical_path && d.Graph(is_b).OnCritical(b.first);
      const bool hit = b.count == 1 && !is_b && !d.hits.empty() && d.IsHit(b.first);
      Run& r = run[row];
      // Only blocks a few pixels wide merge, so the boundaries between wide ops stay visible.
      const bool tiny = bx1 - bx0 < 4;
      if (r.open && tiny && r.tiny && r.col == col && bx0 <= r.x1 + 1) {
        r.x1 = std::max(r.x1, bx1);
      } else {
        flush(row);
        r = Run{bx0, bx1, col, tiny, true};
      }
      if (!labelled && !critical && !hit) continue;
      dl->ChannelsSetCurrent(1);  // decorations go on top of the rectangles
      if (labelled) {
        const std::string& nm = m.NameOf(m.events[b.first]);
        const ImVec4 clip(bx0, std::max(by0, view_y0), bx1, std::min(by1, view_y1));
        dl->AddText(font, font_size, ImVec2(bx0 + 3, by0 + (by1 - by0 - font_size) / 2), IM_COL32(255, 255, 255, 255),
                    nm.c_str(), nullptr, 0, &clip);
      }
      if (critical) dl->AddRect(ImVec2(bx0, by0), ImVec2(bx1, by1), kCriticalColor, 0, 0, 2.5f);
      if (hit) dl->AddRect(ImVec2(bx0 - 1, by0 - 1), ImVec2(bx1 + 1, by1 + 1), IM_COL32(255, 64, 255, 255), 0, 0, 2.f);
      dl->ChannelsSetCurrent(0);
    }
    for (int r = 0; r < rows; ++r) flush(r);
  };
  for (size_t li = 0; li < A.lanes.size(); ++li) draw_lane(A, int(li), L.lane_y0[li], L.lane_y1[li], 0, false);
  if (B && C)
    for (size_t lb = 0; lb < B->lanes.size(); ++lb)
      if (L.lane_b_y0[lb] != TimelineLayout::kNoRow) draw_lane(*B, int(lb), L.lane_b_y0[lb], L.lane_b_y1[lb], C->start_shift_us, true);
  dl->ChannelsMerge();
  // (labels and ops were clipped on the CPU; everything above shares the clip rectangle pushed before the grid)
  vs.blocks_drawn = drawn;

  // Screen rectangle of an event of A or B; false when its lane has no row (a lane of B with no partner in A).
  auto event_rect = [&](const TraceModel& m, uint32_t ev, bool is_b, ImVec2* a, ImVec2* b) {
    const Event& e = m.events[ev];
    double shift = is_b && C ? C->start_shift_us : 0;
    float ly0 = is_b ? L.lane_b_y0[e.lane] : L.lane_y0[e.lane], ly1 = is_b ? L.lane_b_y1[e.lane] : L.lane_y1[e.lane];
    if (ly0 == TimelineLayout::kNoRow) return false;
    const int rows = 1 + std::min(m.lanes[e.lane].max_depth, 5);
    const float rh = (ly1 - ly0) / float(rows);
    const int row = std::min<int>(e.depth, rows - 1);
    *a = ImVec2(X(e.ts - shift), ly0 + rh * row);
    *b = ImVec2(std::max(X(e.End() - shift), a->x + 1), ly0 + rh * (row + 1));
    return true;
  };
  // Critical path links, of A and (compare mode) of B.
  dl->PushClipRect(ImVec2(x0, view_y0), ImVec2(x1, view_y1), true);
  for (const bool is_b : {false, true}) {
    if (!vs.critical_path || (is_b && !(B && C))) continue;
    const TraceGraph& g = d.Graph(is_b);
    const TraceModel& m = d.Model(is_b);
    for (size_t i = 1; g.critical_built && i < g.critical.size(); ++i) {
      ImVec2 pa, pb, qa, qb;
      if (!event_rect(m, g.critical[i - 1], is_b, &pa, &pb) || !event_rect(m, g.critical[i], is_b, &qa, &qb)) continue;
      if (std::max(pb.x, qa.x) < x0 || std::min(pb.x, qa.x) > x1) continue;
      dl->AddLine(ImVec2(pb.x, (pa.y + pb.y) / 2), ImVec2(qa.x, (qa.y + qb.y) / 2), IM_COL32(255, 235, 59, 200), 2);
    }
  }
  // Selection (an op of A, or of B in compare mode) with dependency arrows within its trace, and its counterpart in
  // the other trace outlined.
  const bool sel_b = vs.selected_b && B && C;
  const TraceModel& SM = d.Model(sel_b);
  if (vs.selected >= 0 && (sel_b || !vs.selected_b) && size_t(vs.selected) < SM.events.size()) {
    ImVec2 sa, sb;
    const uint32_t sel = uint32_t(vs.selected);
    if (event_rect(SM, sel, sel_b, &sa, &sb)) {
      dl->AddRect(ImVec2(sa.x - 1, sa.y - 1), ImVec2(sb.x + 1, sb.y + 1), IM_COL32(255, 255, 255, 255), 0, 0, 2.5f);
      DepGraph& g = d.Graph(sel_b).Deps(SM);
      for (const DepEdge& e : g.DepsOf(sel)) {
        ImVec2 a, b;
        if (event_rect(SM, e.from, sel_b, &a, &b))
          Arrow(dl, ImVec2(b.x, (a.y + b.y) / 2), ImVec2(sa.x, (sa.y + sb.y) / 2), kDepArrowColor, 2);
      }
      for (const DepEdge& e : g.DependantsOf(sel)) {
        ImVec2 a, b;
        if (event_rect(SM, e.to, sel_b, &a, &b))
          Arrow(dl, ImVec2(sb.x, (sa.y + sb.y) / 2), ImVec2(a.x, (a.y + b.y) / 2), kDependantArrowColor, 2);
      }
    }
    const int64_t other = !(B && C) ? -1 : sel_b ? C->a_of_b[sel] : C->b_of_a[sel];
    ImVec2 a, b;
    if (other >= 0 && event_rect(d.Model(!sel_b), uint32_t(other), !sel_b, &a, &b))
      dl->AddRect(ImVec2(a.x - 1, a.y - 1), ImVec2(b.x + 1, b.y + 1), IM_COL32(255, 255, 255, 255), 0, 0, 2.f);
  }
  if (vs.has_range)
    dl->AddRectFilled(ImVec2(X(vs.range_t0), view_y0), ImVec2(X(vs.range_t1), view_y1), IM_COL32(120, 160, 255, 50));
  dl->PopClipRect();
  dl->PopClipRect();

  // Time axis (drawn last, on top).
  L.axis_y0 = wpos.y, L.axis_y1 = wpos.y + axis_h;
  dl->AddRectFilled(ImVec2(wpos.x, wpos.y), ImVec2(wpos.x + wsize.x, wpos.y + axis_h), IM_COL32(28, 28, 32, 255));
  for (double t = std::floor((vs.t0 - origin) / step) * step + origin; t <= vs.t1; t += step) {
    float x = X(t);
    if (x < x0) continue;
    dl->AddLine(ImVec2(x, wpos.y + axis_h - 6), ImVec2(x, wpos.y + axis_h), IM_COL32(200, 200, 200, 255));
    dl->AddText(ImVec2(x + 2, wpos.y + 3), IM_COL32(200, 200, 200, 255), FormatDuration(t - origin).c_str());
  }
  {
    std::string s = "span " + FormatDuration(span);
    dl->AddText(ImVec2(wpos.x + 4, wpos.y + 3), IM_COL32(255, 255, 160, 255), s.c_str());
  }

  // Input.
  ImGuiIO& io = ImGui::GetIO();
  const bool hovered = ImGui::IsWindowHovered();
  const ImVec2 mp = io.MousePos;
  vs.hovered = -1;
  if (hovered && mp.x >= x0 && mp.x <= x1 && mp.y >= view_y0) {
    const double tm = T(mp.x);
    const double slack = us_per_px * 2;
    for (size_t li = 0; li < A.lanes.size() && vs.hovered < 0; ++li)
      if (mp.y >= L.lane_y0[li] && mp.y < L.lane_y1[li])
        vs.hovered = A.EventAt(int(li), tm, slack, RowAt(A, int(li), L.lane_y0[li], L.lane_y1[li], mp.y)),
        vs.hovered_b = false;
    if (B && C)
      for (size_t lb = 0; lb < B->lanes.size() && vs.hovered < 0; ++lb)
        if (L.lane_b_y0[lb] != TimelineLayout::kNoRow && mp.y >= L.lane_b_y0[lb] && mp.y < L.lane_b_y1[lb])
          vs.hovered = B->EventAt(int(lb), tm + C->start_shift_us, slack,
                                  RowAt(*B, int(lb), L.lane_b_y0[lb], L.lane_b_y1[lb], mp.y)),
          vs.hovered_b = true;
    if (vs.hovered >= 0 && !vs.dragging) {
      Tooltip(vs.hovered_b ? *B : A, uint32_t(vs.hovered), vs.hovered_b ? "B: " : "");
      if (B && C && !vs.hovered_b && C->b_of_a[size_t(vs.hovered)] >= 0) {
        ImGui::BeginTooltip();
        ImGui::Text("B: %s (%+.1f%%)", FormatDuration(B->events[size_t(C->b_of_a[size_t(vs.hovered)])].dur).c_str(),
                    100 * C->rel_diff[size_t(vs.hovered)]);
        ImGui::EndTooltip();
      }
    }
    if (io.MouseWheel != 0) ZoomAround(vs, tm, std::pow(0.8, double(io.MouseWheel)));
    const bool range_mod = io.KeyShift;
    if (ImGui::IsMouseClicked(0) && !range_mod) {
      vs.dragging = true, vs.drag_x = mp.x, vs.drag_t0 = vs.t0, vs.drag_t1 = vs.t1;
    }
    if ((ImGui::IsMouseClicked(0) && range_mod) || ImGui::IsMouseClicked(1)) {
      vs.range_dragging = true, vs.drag_x = mp.x, vs.range_t0 = vs.range_t1 = tm, vs.has_range = false;
    }
  }
  if (vs.dragging) {
    float dx = mp.x - vs.drag_x;
    vs.t0 = vs.drag_t0 - dx * us_per_px, vs.t1 = vs.drag_t1 - dx * us_per_px;
    if (!ImGui::IsMouseDown(0)) {
      vs.dragging = false;
      if (std::abs(dx) < 3) {  // a click, not a drag
        vs.t0 = vs.drag_t0, vs.t1 = vs.drag_t1;
        vs.selected = vs.hovered, vs.selected_b = vs.hovered_b;
      }
    }
  }
  if (vs.range_dragging) {
    double a = T(vs.drag_x), b = T(mp.x);
    vs.range_t0 = std::min(a, b), vs.range_t1 = std::max(a, b);
    vs.has_range = vs.range_t1 - vs.range_t0 > us_per_px * 3;
    if (!ImGui::IsMouseDown(0) && !ImGui::IsMouseDown(1)) vs.range_dragging = false;
  }
  if (ImGui::IsWindowFocused() && !io.WantTextInput) {
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
  ImGui::EndChild();
}

}  // namespace ringlab::viz
