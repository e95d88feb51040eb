// The timeline's counter tracks (Chrome ph C events, e.g. link bytes/s): each under its rank's lanes, a label with the
// track's peak, and the value as a filled step chart scaled to the track's [min(0, lowest), highest]. Zoomed out,
// each pixel column shows the highest value held in it (of at most 65 samples: bounded work per column), found
// by binary search (O(columns × log samples)).
#include <algorithm>
#include <cstdio>

#include "viz/views/timeline_parts.h"

namespace ringlab::viz {
namespace {

constexpr ImU32 kCounterFill = IM_COL32(90, 170, 110, 255);
constexpr ImU32 kCounterBackground = IM_COL32(30, 34, 32, 255);

// Highest value held in [t0, t1): the sample in force at t0 and every sample starting inside.
double PeakIn(const CounterTrack& c, double t0, double t1, bool* any) {
  auto b = std::upper_bound(c.ts.begin(), c.ts.end(), t0);
  size_t i = size_t(b - c.ts.begin());
  double v = 0;
  *any = false;
  if (i > 0) v = c.value[i - 1], *any = true;
  for (size_t k = i; k < c.ts.size() && c.ts[k] < t1; ++k) {
    v = *any ? std::max(v, c.value[k]) : c.value[k];
    *any = true;
    if (k - i >= 64) break;  // bounded work per column: a dense column shows the peak of its first 65 samples
  }
  return v;
}

}  // namespace

void DrawCounters(const ViewerData& d, const ViewState& vs, const TimelineFrame& f) {
  const TimelineLayout& L = vs.layout;
  for (size_t i = 0; i < d.a.counters.size(); ++i) {
    const float y0 = L.counter_y0[i], y1 = L.counter_y1[i];
    if (y0 == TimelineLayout::kNoRow || y1 < f.view_y0 || y0 > f.view_y1) continue;
    const CounterTrack& c = d.a.counters[i];
    char label[256];
    snprintf(label, sizeof label, "%s", c.name.c_str());
    const ImVec4 clip(f.wpos.x, std::max(y0, f.view_y0), f.x0 - 4, std::min(y1, f.view_y1));
    f.dl->AddText(ImGui::GetFont(), ImGui::GetFontSize(), ImVec2(f.wpos.x + 6, y0 + 2), IM_COL32(180, 230, 190, 255),
                  label, nullptr, 0, &clip);
    f.dl->AddRectFilled(ImVec2(f.x0, y0), ImVec2(f.x1, y1), kCounterBackground);
    const double range = c.vmax - c.vmin;
    if (c.ts.empty() || range <= 0) continue;
    auto y_of = [&](double v) { return float(y1 - 1 - (v - c.vmin) / range * double(y1 - y0 - 3)); };
    // One rectangle per run of pixel columns with the same height.
    float run_x0 = 0, run_y = 0;
    bool open = false;
    auto flush = [&](float x) {
      if (open && run_y < y1 - 1) f.dl->AddRectFilled(ImVec2(run_x0, run_y), ImVec2(x, y1 - 1), kCounterFill);
      open = false;
    };
    for (float x = f.x0; x < f.x1; x += 1) {
      bool any = false;
      const double v = PeakIn(c, f.T(x), f.T(x + 1), &any);
      const float yv = any ? y_of(v) : y1 - 1;
      if (open && yv == run_y) continue;
      flush(x);
      run_x0 = x, run_y = yv, open = true;
    }
    flush(f.x1);
    snprintf(label, sizeof label, "peak %.3g", c.vmax);
    f.dl->AddText(ImVec2(f.x1 - ImGui::CalcTextSize(label).x - 4, y0 + 1), IM_COL32(200, 200, 200, 255), label);
  }
}

}  // namespace ringlab::viz
