// The timeline's time axis: grid lines under the lanes and the axis bar with time labels, both at a "nice" step
// (1, 2 or 5 times a power of ten, about 90 pixels apart), counted from the trace's start.
#include <cmath>
#include <string>

#include "viz/views/timeline_parts.h"

namespace ringlab::viz {
namespace {

double NiceStep(double raw) {
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

// Calls f(t) for each grid time in the view; t - d.a.t_min is the label. Times are origin + k * step for a counted
// k, never a running sum: far from the origin `t += step` can stop advancing (the step below the double's
// resolution there) and the loop would add lines until memory runs out. At most kMaxLines calls whatever the range.
template <typename F>
void ForEachGridTime(const ViewerData& d, const TimelineFrame& fr, F&& f) {
  constexpr int kMaxLines = 1024;
  const double step = NiceStep(fr.us_per_px * 90);
  const double origin = d.a.t_min;
  if (!(step > 0) || !std::isfinite(step)) return;
  const double k0 = std::floor((fr.vs->t0 - origin) / step), k1 = std::floor((fr.vs->t1 - origin) / step);
  if (!std::isfinite(k0) || !std::isfinite(k1)) return;
  for (int i = 0; i < kMaxLines && k0 + i <= k1; ++i) f(origin + (k0 + i) * step);
}

}  // namespace

void DrawGridLines(const ViewerData& d, const TimelineFrame& f) {
  ForEachGridTime(d, f, [&](double t) {
    f.dl->AddLine(ImVec2(f.X(t), f.view_y0), ImVec2(f.X(t), f.view_y1), IM_COL32(255, 255, 255, 22));
  });
}

void DrawTimeAxis(const ViewerData& d, ViewState& vs, const TimelineFrame& f) {
  ImDrawList* dl = f.dl;
  const ImVec2 wpos = f.wpos;
  vs.layout.axis_y0 = wpos.y, vs.layout.axis_y1 = wpos.y + f.axis_h;
  dl->AddRectFilled(ImVec2(wpos.x, wpos.y), ImVec2(wpos.x + f.wsize.x, wpos.y + f.axis_h), IM_COL32(28, 28, 32, 255));
  ForEachGridTime(d, f, [&](double t) {
    float x = f.X(t);
    if (x < f.x0) return;
    dl->AddLine(ImVec2(x, wpos.y + f.axis_h - 6), ImVec2(x, wpos.y + f.axis_h), IM_COL32(200, 200, 200, 255));
    dl->AddText(ImVec2(x + 2, wpos.y + 3), IM_COL32(200, 200, 200, 255), FormatDuration(t - d.a.t_min).c_str());
  });
  const std::string s = "span " + FormatDuration(f.span);
  dl->AddText(ImVec2(wpos.x + 4, wpos.y + 3), IM_COL32(255, 255, 160, 255), s.c_str());
}

}  // namespace ringlab::viz
