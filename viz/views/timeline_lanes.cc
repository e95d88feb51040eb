// The timeline's lanes: their layout (grouped by rank, B's rows under their partners in compare mode), the rank
// headers, and each lane's label, background and ops at a level of detail that fits the zoom.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "viz/views/timeline_parts.h"

namespace ringlab::viz {
namespace {

// fg over bg with alpha a/255, opaque result.
ImU32 Blend(ImU32 fg, ImU32 bg, unsigned a) {
  ImU32 r = 0xFF000000u;
  for (int sh = 0; sh < 24; sh += 8) {
    unsigned f = (fg >> sh) & 0xFF, b = (bg >> sh) & 0xFF;
    r |= ImU32((f * a + b * (255 - a) + 127) / 255) << sh;
  }
  return r;
}

// Draws the lanes of one frame. Every lane is drawn under one clip rectangle (the time area): per-lane and per-label
// clip rectangles each started a new draw call (38-332 a frame), each validated and binned on its own by software GL.
// Text is clipped on the CPU instead (AddText's fine clip rectangle). Opaque rectangles go to channel 0, text and
// outlines to channel 1 on top.
class LaneDrawer {
 public:
  LaneDrawer(ViewerData& d, const ViewState& vs, const TimelineFrame& f)
      : d_(d), vs_(vs), f_(f), dl_(f.dl), font_(ImGui::GetFont()), font_size_(ImGui::GetFontSize()) {}

  void Draw(const TraceModel& m, int li, float ly0, float ly1, double shift, bool is_b) {
    if (ly1 < f_.view_y0 || ly0 > f_.view_y1) return;
    const Lane& l = m.lanes[size_t(li)];
    std::string label = (is_b ? "B " : (d_.b ? "A " : "")) + l.name;
    const ImVec4 label_clip(f_.wpos.x, std::max(ly0, f_.view_y0), f_.x0 - 4, std::min(ly1, f_.view_y1));
    dl_->ChannelsSetCurrent(1);
    dl_->AddText(font_, font_size_, ImVec2(f_.wpos.x + 6, ly0 + 2), IM_COL32(220, 220, 220, 255), label.c_str(),
                 nullptr, 0, &label_clip);
    dl_->ChannelsSetCurrent(0);
    const int rows = 1 + std::min(l.max_depth, 5);
    const float row_h = (ly1 - ly0) / float(rows);
    // One background rectangle per lane, ops on top. (Filling only the gaps between ops saves pixels but costs more
    // triangles than it saves when zoomed out, where gaps are a few pixels wide.)
    dl_->AddRectFilled(ImVec2(f_.x0, ly0), ImVec2(f_.x1, ly1), kLaneBackground);
    // Far out (on average more than kCoverageEventsPerPx events start in each pixel column of a lane), the
    // lane is drawn from per-column coverage: one rectangle per run of columns of one dominant kind. Building is
    // O(columns), not O(visible events), and the rasteriser gets a few hundred rectangles per lane at most instead
    // of thousands of 2-pixel blocks. Nearer in, nothing changes: blocks below.
    constexpr double kCoverageEventsPerPx = 4;
    const Comparison* C = d_.cmp.get();
    const bool coverage = !(is_b && C && vs_.diff_colours) &&
                          EventsStartingIn(m, li, vs_.t0 + shift, vs_.t1 + shift) > kCoverageEventsPerPx * f_.width;
    if (coverage) DrawCoverage(m, li, rows, ly0, row_h, shift, is_b);
    else DrawBlocks(m, li, rows, ly0, row_h, shift, is_b);
  }

  int64_t drawn() const { return drawn_; }

 private:
  static constexpr ImU32 kLaneBackground = IM_COL32(38, 38, 44, 255);

  void DrawCoverage(const TraceModel& m, int li, int rows, float ly0, float row_h, double shift, bool is_b) {
    // Cached per chunk of columns on a grid fixed in time (coverage_cache.h): a pan computes only the new columns.
    // Run columns count from the grid column holding the view's start, which lies shift_px into it.
    const float x0 = f_.x0, x1 = f_.x1;
    double shift_px = 0;
    const std::vector<CoverageRun>& runs = (is_b ? d_.coverage_b : d_.coverage_a)
        .Runs(m, li, rows, m.t_min, vs_.t0 + shift, f_.us_per_px, int(std::ceil(f_.width)), &shift_px);
    for (const CoverageRun& r : runs) {
      ImU32 col = KindColor(r.kind);
      if (!r.single) col = Blend(col, kLaneBackground, 0xB0);  // folded: the look of folded blocks
      const float rx0 = std::max(x0, x0 + float(double(r.c0) - shift_px));
      const float rx1 = std::min(x0 + float(double(r.c1) - shift_px), x1);
      if (rx1 <= rx0) continue;
      dl_->AddRectFilled(ImVec2(rx0, ly0 + r.row * row_h + 1),
                         ImVec2(std::max(rx1, rx0 + 1), ly0 + (r.row + 1) * row_h - 1), col);
      ++drawn_;
    }
  }

  void DrawBlocks(const TraceModel& m, int li, int rows, float ly0, float row_h, double shift, bool is_b) {
    const Comparison* C = d_.cmp.get();
    VisibleBlocks(m, li, vs_.t0 + shift, vs_.t1 + shift, f_.us_per_px, vs_.min_px, &blocks_);
    // Neighbouring blocks of one colour that touch (within a pixel) are drawn as one rectangle: zoomed out, thousands
    // of 2-pixel blocks become fewer rectangles; llvmpipe's per-triangle setup is a large part of a zoomed-out frame.
    struct Run {
      float x0, x1;
      ImU32 col;
      bool tiny = false, open = false;
    } run[6];
    auto flush = [&](int r) {
      if (!run[r].open) return;
      dl_->AddRectFilled(ImVec2(run[r].x0, ly0 + r * row_h + 1), ImVec2(run[r].x1, ly0 + (r + 1) * row_h - 1),
                         run[r].col);
      run[r].open = false;
    };
    for (const LodBlock& b : blocks_) {
      float bx0 = std::max(f_.X(b.t0 - shift), f_.x0), bx1 = std::min(f_.X(b.t1 - shift), f_.x1);
      if (bx1 - bx0 < 1) bx1 = bx0 + 1;
      const int row = std::min<int>(b.depth, rows - 1);
      const float by0 = ly0 + row * row_h + 1, by1 = ly0 + (row + 1) * row_h - 1;
      ImU32 col = KindColor(b.kind);
      if (is_b && C && vs_.diff_colours && b.count == 1) {
        int64_t ai = C->a_of_b[b.first];
        if (ai >= 0) col = DiffColor(C->rel_diff[size_t(ai)]);
      }
      if (b.count > 1) col = Blend(col, kLaneBackground, 0xB0);  // the old translucent look, opaque: runs can merge
      ++drawn_;
      const bool labelled = b.count == 1 && bx1 - bx0 > 30;
      const bool critical = b.count == 1 && vs_.critical_path && d_.Graph(is_b).OnCritical(b.first);
      const bool hit = b.count == 1 && !is_b && !d_.hits.empty() && d_.IsHit(b.first);
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
      dl_->ChannelsSetCurrent(1);  // decorations go on top of the rectangles
      if (labelled) {
        const std::string& nm = m.NameOf(m.events[b.first]);
        const ImVec4 clip(bx0, std::max(by0, f_.view_y0), bx1, std::min(by1, f_.view_y1));
        dl_->AddText(font_, font_size_, ImVec2(bx0 + 3, by0 + (by1 - by0 - font_size_) / 2),
                     IM_COL32(255, 255, 255, 255), nm.c_str(), nullptr, 0, &clip);
      }
      if (critical) dl_->AddRect(ImVec2(bx0, by0), ImVec2(bx1, by1), kCriticalColor, 0, 0, 2.5f);
      if (hit) dl_->AddRect(ImVec2(bx0 - 1, by0 - 1), ImVec2(bx1 + 1, by1 + 1), IM_COL32(255, 64, 255, 255), 0, 0, 2.f);
      dl_->ChannelsSetCurrent(0);
    }
    for (int r = 0; r < rows; ++r) flush(r);
  }

  ViewerData& d_;
  const ViewState& vs_;
  const TimelineFrame& f_;
  ImDrawList* dl_;
  ImFont* font_;
  float font_size_;
  std::vector<LodBlock> blocks_;  // reused from lane to lane
  int64_t drawn_ = 0;
};

}  // namespace

std::vector<RankHeader> LayoutLanes(const ViewerData& d, ViewState& vs, const TimelineFrame& f) {
  const TraceModel& A = d.a;
  const TraceModel* B = d.b.get();
  const Comparison* C = d.cmp.get();
  // Lane positions (content coordinates follow scrolling).
  TimelineLayout& L = vs.layout;
  L.x0 = f.x0, L.x1 = f.x1, L.t0 = vs.t0, L.t1 = vs.t1;
  L.lane_y0.assign(A.lanes.size(), 0);
  L.lane_y1.assign(A.lanes.size(), 0);
  L.lane_b_y0.assign(B ? B->lanes.size() : 0, TimelineLayout::kNoRow);
  L.lane_b_y1.assign(B ? B->lanes.size() : 0, TimelineLayout::kNoRow);
  L.counter_y0.assign(A.counters.size(), TimelineLayout::kNoRow);
  L.counter_y1.assign(A.counters.size(), TimelineLayout::kNoRow);
  // B's lanes under their partner lane of A (several may share one), those whose rank A lacks at the end.
  std::vector<std::vector<int>> b_under(B && C ? A.lanes.size() : 0);
  std::vector<int> b_alone;
  if (B && C)
    for (size_t lb = 0; lb < B->lanes.size(); ++lb) {
      const int la = lb < C->lane_a_of_b.size() ? C->lane_a_of_b[lb] : -1;
      (la >= 0 ? b_under[size_t(la)] : b_alone).push_back(int(lb));
    }
  const float top = f.wpos.y + f.axis_h + 4;
  float y = top - f.scroll_y;
  std::vector<RankHeader> rank_headers;
  auto lane_h = [&](const Lane& l) {
    return vs.lane_height * float(1 + std::min(l.max_depth, 5)) * (l.max_depth ? 0.6f : 1.f);
  };
  size_t ci = 0;  // counters are sorted by rank, like lanes
  auto counters_up_to = [&](int rank) {
    for (; ci < A.counters.size() && A.counters[ci].rank <= rank; ++ci) {
      L.counter_y0[ci] = y, L.counter_y1[ci] = y + vs.lane_height * 1.5f;
      y += vs.lane_height * 1.5f + 2;
    }
  };
  for (size_t li = 0; li < A.lanes.size(); ++li) {
    const Lane& l = A.lanes[li];
    if (li == 0 || A.lanes[li - 1].rank != l.rank) {
      if (li) counters_up_to(A.lanes[li - 1].rank), y += vs.rank_gap;
      rank_headers.push_back({y, l.rank});
      y += 15;
    }
    const float h = lane_h(l);
    L.lane_y0[li] = y, L.lane_y1[li] = y + h;
    y += h + 2;
    for (size_t k = 0; k < (b_under.empty() ? 0 : b_under[li].size()); ++k) {
      const int lb = b_under[li][k];
      const float hb = lane_h(B->lanes[size_t(lb)]);
      L.lane_b_y0[size_t(lb)] = y, L.lane_b_y1[size_t(lb)] = y + hb;
      y += hb + 4;
    }
  }
  counters_up_to(std::numeric_limits<int>::max());
  for (int lb : b_alone) {
    const float hb = lane_h(B->lanes[size_t(lb)]);
    L.lane_b_y0[size_t(lb)] = y, L.lane_b_y1[size_t(lb)] = y + hb;
    y += hb + 4;
  }
  const float content_h = y + f.scroll_y - f.wpos.y + 8;
  ImGui::Dummy(ImVec2(f.wsize.x - 20, content_h - ImGui::GetCursorPosY()));
  return rank_headers;
}

float MeasureLabelWidth(const ViewerData& d, float window_w) {
  float w = 0;
  for (const Lane& l : d.a.lanes) w = std::max(w, ImGui::CalcTextSize(l.name.c_str()).x);
  if (d.b)
    for (const Lane& l : d.b->lanes) w = std::max(w, ImGui::CalcTextSize(l.name.c_str()).x);
  for (const CounterTrack& c : d.a.counters) w = std::max(w, ImGui::CalcTextSize(c.name.c_str()).x);
  const float prefix = d.b ? ImGui::CalcTextSize("B ").x : 0.f;
  return std::clamp(w + prefix + 14, 150.f, std::max(150.f, window_w * 0.4f));
}

void DrawRankHeaders(const TimelineFrame& f, const std::vector<RankHeader>& headers) {
  for (auto [hy, rank] : headers) {
    char b[32];
    snprintf(b, sizeof b, "rank %d", rank);
    f.dl->AddRectFilled(ImVec2(f.wpos.x, hy), ImVec2(f.wpos.x + f.wsize.x, hy + 14), IM_COL32(60, 60, 70, 255));
    f.dl->AddText(ImVec2(f.wpos.x + 4, hy), IM_COL32(230, 230, 230, 255), b);
  }
}

void DrawLanes(ViewerData& d, ViewState& vs, const TimelineFrame& f) {
  ImDrawList* dl = f.dl;
  dl->ChannelsSplit(2);
  dl->ChannelsSetCurrent(1);
  if (vs.opaque_begin) dl->AddCallback(ImDrawCallback_ResetRenderState, nullptr);
  dl->ChannelsSetCurrent(0);
  if (vs.opaque_begin) dl->AddCallback(vs.opaque_begin, nullptr);
  LaneDrawer lanes(d, vs, f);
  const TimelineLayout& L = vs.layout;
  for (size_t li = 0; li < d.a.lanes.size(); ++li) lanes.Draw(d.a, int(li), L.lane_y0[li], L.lane_y1[li], 0, false);
  if (d.b && d.cmp)
    for (size_t lb = 0; lb < d.b->lanes.size(); ++lb)
      if (L.lane_b_y0[lb] != TimelineLayout::kNoRow)
        lanes.Draw(*d.b, int(lb), L.lane_b_y0[lb], L.lane_b_y1[lb], d.cmp->start_shift_us, true);
  dl->ChannelsMerge();
  vs.blocks_drawn = lanes.drawn();
}

}  // namespace ringlab::viz
