#include <cstdio>

#include "viz/views/views.h"

namespace ringlab::viz {

void DrawStats(ViewerData& d, ViewState& vs) {
  const RunInfo& r = d.run;
  ImGui::Text("source %s  %s  %s", r.source.c_str(), r.method.c_str(), r.hardware.c_str());
  if (!r.problem.empty()) ImGui::Text("problem %s", r.problem.c_str());
  ImGui::Text("step time %s  ranks %d  events %lld", FormatDuration(r.step_time_us).c_str(), r.ranks,
              (long long)r.events);
  double t0 = vs.has_range ? vs.range_t0 : vs.t0, t1 = vs.has_range ? vs.range_t1 : vs.t1;
  // Recompute only when the window changed (a few microseconds with the index; nothing while it is being built).
  const StatsIndex* index = d.Stats();
  if (index && (t0 != d.stats_t0 || t1 != d.stats_t1)) {
    d.stats = index->Compute(t0, t1);
    d.stats_t0 = t0, d.stats_t1 = t1;
  }
  const WindowStats& s = d.stats;
  if (d.stats.ranks.empty()) {
    ImGui::TextUnformatted("computing statistics...");
    return;
  }
  ImGui::Text("%s %s .. %s (%s)", vs.has_range ? "selected range" : "visible range",
              FormatDuration(s.t0 - d.a.t_min).c_str(), FormatDuration(s.t1 - d.a.t_min).c_str(),
              FormatDuration(s.t1 - s.t0).c_str());
  const ImGuiTableFlags fl = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                             ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("stats", 8, fl)) {
    ImGui::TableSetupScrollFreeze(0, 1);
    for (const char* h : {"rank", "wall", "compute", "comm", "overlap", "idle", "exposed comm", "overlap frac"})
      ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    auto row = [](const RankWindowStats& x, const char* label) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(label);
      for (double v : {x.wall_us, x.compute_us, x.comm_us, x.both_us, x.idle_us, x.exposed_comm_us}) {
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(FormatDuration(v).c_str());
      }
      ImGui::TableNextColumn();
      ImGui::Text("%.1f%%", 100 * x.overlap_fraction);
    };
    for (const RankWindowStats& x : s.ranks) {
      char b[16];
      snprintf(b, sizeof b, "%d", x.rank);
      row(x, b);
    }
    row(s.total, "all");
    ImGui::EndTable();
  }
}

}  // namespace ringlab::viz
