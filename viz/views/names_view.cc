// The "Names" tab: per-name statistics (name_stats.h) of the selected range, or of the visible one.
#include "viz/views/views.h"

namespace ringlab::viz {

void DrawNameStats(ViewerData& d, ViewState& vs) {
  const double t0 = vs.has_range ? vs.range_t0 : vs.t0, t1 = vs.has_range ? vs.range_t1 : vs.t1;
  const bool current = d.NameRows(t0, t1);
  ImGui::Text("%s %s .. %s: %zu names, events counted by their start%s", vs.has_range ? "selected range" : "visible range",
              FormatDuration(t0 - d.a.t_min).c_str(), FormatDuration(t1 - d.a.t_min).c_str(), d.names.size(),
              current ? "" : " (updating...)");
  const ImGuiTableFlags fl = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY |
                             ImGuiTableFlags_SizingStretchProp;
  if (!ImGui::BeginTable("names", 7, fl)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("name", ImGuiTableColumnFlags_WidthStretch, 4.f);
  for (const char* h : {"kind", "count", "total", "mean", "p50", "p99"}) ImGui::TableSetupColumn(h);
  ImGui::TableHeadersRow();
  ImGuiListClipper clip;
  clip.Begin(int(d.names.size()));
  while (clip.Step()) {
    for (int i = clip.DisplayStart; i < clip.DisplayEnd; ++i) {
      const NameStats& r = d.names[size_t(i)];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(d.a.names[r.name].c_str());
      ImGui::TableNextColumn();
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(KindColor(r.kind)), "%s", VizKindName(r.kind).data());
      ImGui::TableNextColumn();
      ImGui::Text("%lld", (long long)r.count);
      for (double v : {r.total_us, r.mean_us, r.p50_us, r.p99_us}) {
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(FormatDuration(v).c_str());
      }
    }
  }
  ImGui::EndTable();
}

}  // namespace ringlab::viz
