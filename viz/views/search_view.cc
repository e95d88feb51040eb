#include <cstdio>

#include "viz/views/views.h"

namespace ringlab::viz {

void DrawSearch(ViewerData& d, ViewState& vs) {
  d.EnsureSearch(vs.search);
  if (!vs.search[0]) {
    ImGui::TextUnformatted("Type in the search box to find ops by name.");
    return;
  }
  ImGui::Text("%zu ops match '%s'%s", d.hits.size(), vs.search, d.hits.size() >= 100000 ? " (first 100000)" : "");
  ImGuiListClipper clip;
  clip.Begin(int(d.hits.size()));
  while (clip.Step())
    for (int i = clip.DisplayStart; i < clip.DisplayEnd; ++i) {
      const Event& e = d.a.events[d.hits[size_t(i)]];
      char b[256];
      snprintf(b, sizeof b, "%s  %s  at %s  (%s)##%d", d.a.lanes[e.lane].name.c_str(), d.a.NameOf(e).c_str(),
               FormatDuration(e.ts - d.a.t_min).c_str(), FormatDuration(e.dur).c_str(), i);
      if (ImGui::Selectable(b, vs.selected == int64_t(d.hits[size_t(i)]))) SelectEvent(d, vs, d.hits[size_t(i)], true);
    }
}

void DrawSelection(ViewerData& d, ViewState& vs) {
  const TraceModel& m = vs.selected_b && d.b ? *d.b : d.a;
  if (vs.selected < 0 || size_t(vs.selected) >= m.events.size()) {
    ImGui::TextUnformatted("Click an op to select it (its dependencies show as green arrows, dependants orange).");
    return;
  }
  const Event& e = m.events[size_t(vs.selected)];
  ImGui::Text("%s%s on %s: start %s, duration %s", vs.selected_b ? "B: " : "", m.NameOf(e).c_str(),
              m.lanes[e.lane].name.c_str(), FormatDuration(e.ts - m.t_min).c_str(), FormatDuration(e.dur).c_str());
  // Dependencies within the selected op's own trace (A, or B in compare mode); choosing one selects it there.
  const bool in_b = vs.selected_b && d.b;
  DepGraph& g = d.Graph(in_b).Deps(m);
  ImGui::Text("dependencies (%s):", g.exact() ? "from the rebuilt schedule" : "derived: stream order, send/recv");
  const char* type_names[] = {"stream", "schedule", "message"};
  auto list = [&](const std::vector<DepEdge>& edges, bool in) {
    for (const DepEdge& x : edges) {
      uint32_t o = in ? x.from : x.to;
      const Event& oe = m.events[o];
      char b[256];
      snprintf(b, sizeof b, "  %s %s: %s on %s##%u%d", in ? "<-" : "->", type_names[int(x.type)], m.NameOf(oe).c_str(),
               m.lanes[oe.lane].name.c_str(), o, int(in));
      if (ImGui::Selectable(b)) SelectEvent(d, vs, o, true, in_b);
    }
  };
  list(g.DepsOf(uint32_t(vs.selected)), true);
  ImGui::TextUnformatted("dependants:");
  list(g.DependantsOf(uint32_t(vs.selected)), false);
}

}  // namespace ringlab::viz
