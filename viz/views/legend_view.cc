#include "viz/views/views.h"

namespace ringlab::viz {

void DrawLegend(const ViewerData& d, const ViewState& vs) {
  const bool* present = d.kinds_present;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  for (int k = 0; k < kVizKindCount; ++k) {
    if (!present[k]) continue;
    ImVec2 p = ImGui::GetCursorScreenPos();
    const float s = ImGui::GetFontSize();
    dl->AddRectFilled(p, ImVec2(p.x + s, p.y + s), KindColor(VizKind(k)));
    ImGui::Dummy(ImVec2(s, s));
    ImGui::SameLine();
    ImGui::TextUnformatted(std::string(VizKindName(VizKind(k))).c_str());
    ImGui::SameLine(0, 16);
  }
  if (d.b && vs.diff_colours) {
    ImGui::TextUnformatted("B vs A:");
    ImGui::SameLine();
    for (float r : {-0.5f, -0.25f, 0.f, 0.25f, 0.5f}) {
      ImVec2 p = ImGui::GetCursorScreenPos();
      const float s = ImGui::GetFontSize();
      dl->AddRectFilled(p, ImVec2(p.x + s * 2, p.y + s), DiffColor(r));
      ImGui::Dummy(ImVec2(s * 2, s));
      ImGui::SameLine(0, 2);
    }
    ImGui::TextUnformatted("(faster .. slower)");
    ImGui::SameLine();
  }
  if (vs.critical_path) {
    ImGui::TextColored(ImVec4(1, 0.92f, 0.23f, 1), "critical path");
    ImGui::SameLine();
  }
  ImGui::NewLine();
}

}  // namespace ringlab::viz
