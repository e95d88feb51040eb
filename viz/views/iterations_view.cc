// The "Iterations" tab: the iterations found in A (iterations.h) with their step times, slowest rank first; a click
// on a row zooms the timeline to that iteration.
#include <cstdio>
#include <string>

#include "viz/views/views.h"

namespace ringlab::viz {

void DrawIterations(ViewerData& d, ViewState& vs) {
  const IterationTable& it = d.iterations;
  ImGui::Text("%zu iterations, from %s; median step time %s", it.iterations.size(), it.SourceName().c_str(),
              FormatDuration(it.median_step_us).c_str());
  const ImGuiTableFlags fl = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                             ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("iterations", 6, fl)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  for (const char* h : {"iteration", "ranks", "start", "step time (slowest rank)", "device span", "per rank"})
    ImGui::TableSetupColumn(h);
  ImGui::TableHeadersRow();
  for (const IterationSummary& s : it.iterations) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    char label[32];
    snprintf(label, sizeof label, "%d", s.id);
    if (ImGui::Selectable(label, false, ImGuiSelectableFlags_SpanAllColumns)) {
      const double pad = (s.t1 - s.t0) * 0.02;
      vs.t0 = s.t0 - pad, vs.t1 = s.t1 + pad;
    }
    ImGui::TableNextColumn();
    ImGui::Text("%d", s.ranks);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(FormatDuration(s.t0 - d.a.t_min).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(FormatDuration(s.step_us).c_str());
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(FormatDuration(s.device_us).c_str());
    ImGui::TableNextColumn();
    std::string ranks;
    for (const RankIteration& r : it.per_rank)
      if (r.id == s.id && ranks.size() < 200) {
        char b[64];
        snprintf(b, sizeof b, "r%d %s  ", r.rank, FormatDuration(r.step_us).c_str());
        ranks += b;
      }
    ImGui::TextUnformatted(ranks.c_str());
  }
  ImGui::EndTable();
}

}  // namespace ringlab::viz
