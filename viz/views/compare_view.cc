#include <string>

#include "viz/views/views.h"

namespace ringlab::viz {

void DrawCompare(const ViewerData& d, const ViewState&) {
  if (!d.b || !d.cmp) {
    ImGui::TextUnformatted("Open two traces with --compare to compare them.");
    return;
  }
  const Comparison& c = *d.cmp;
  auto files = [](const TraceModel& m) {
    return m.files[0].path + (m.files.size() > 1 ? " +" + std::to_string(m.files.size() - 1) + " files" : "");
  };
  ImGui::Text("A %s (step %s)   B %s (step %s)   step difference %+.2f%%", files(d.a).c_str(),
              FormatDuration(c.step_a_us).c_str(), files(*d.b).c_str(), FormatDuration(c.step_b_us).c_str(),
              c.step_a_us > 0 ? 100 * (c.step_b_us - c.step_a_us) / c.step_a_us : 0.0);
  for (const std::string& w : c.warnings) ImGui::TextColored(ImVec4(1.f, 0.8f, 0.2f, 1.f), "warning: %s", w.c_str());
  auto iter = [](int id, int n) {
    return id < 0 ? std::string("whole trace") : "iteration " + std::to_string(id) + " of " + std::to_string(n);
  };
  ImGui::Text("A: %s, B: %s (B drawn shifted by %s so they start together)", iter(c.iteration_a, c.iterations_a).c_str(),
              iter(c.iteration_b, c.iterations_b).c_str(), FormatDuration(-c.start_shift_us).c_str());
  ImGui::Text("matched by %s; unmatched A %lld, B %lld", c.by_op_id ? "(rank, op id)" : "kind and order per rank",
              (long long)c.unmatched_a, (long long)c.unmatched_b);
  const ImGuiTableFlags fl = ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp;
  if (ImGui::BeginTable("errors", 7, fl)) {
    for (const char* h : {"kind", "ops", "sum A", "sum B", "total error", "mean |error|", "max |error|"})
      ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (const KindError& k : c.kinds) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(k.name.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%lld", (long long)k.matched);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(FormatDuration(k.a_us).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(FormatDuration(k.b_us).c_str());
      ImGui::TableNextColumn();
      ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(DiffColor(float(k.total_rel_error))), "%+.2f%%",
                         100 * k.total_rel_error);
      ImGui::TableNextColumn();
      ImGui::Text("%.2f%%", 100 * k.mean_abs_rel_error);
      ImGui::TableNextColumn();
      ImGui::Text("%.2f%%", 100 * k.max_abs_rel_error);
    }
    ImGui::EndTable();
  }
}

}  // namespace ringlab::viz
