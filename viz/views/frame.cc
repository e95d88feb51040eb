// The whole viewer frame, as a list of panels.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "viz/views/views.h"

namespace ringlab::viz {

void ViewerData::Init() {
  iterations = DetectIterations(a);
  run = Summarize(a, &iterations);
  flows.reset();
  if (names_job.valid()) names_job.wait();
  names_job = {};
  names.clear(), names_t1 = names_t0 - 1;
  if (b) cmp = std::make_unique<Comparison>(CompareTraces(a, *b, compare_options));
  graph_a.Reset(), graph_b.Reset();
  searched.clear(), hits.clear(), hits_sorted.clear();
  stats_t1 = stats_t0 - 1;
  coverage_a.Clear(), coverage_b.Clear();
  stats = {};
  if (stats_index_job.valid()) stats_index_job.wait();  // it reads `a`
  stats_index_job = {};
  stats_index.reset();
  if (async_stats)
    stats_index_job = std::async(std::launch::async, [&m = a] { return std::make_unique<StatsIndex>(m); });
  else
    stats_index = std::make_unique<StatsIndex>(a);
  for (bool& k : kinds_present) k = false;
  for (const Event& e : a.events) kinds_present[size_t(e.kind)] = true;
}

const FlowSet& ViewerData::Flows() {
  if (!flows) flows = std::make_unique<FlowSet>(MessageFlows(a));
  return *flows;
}

bool ViewerData::NameRows(double t0, double t1) {
  if (names_job.valid() && names_job.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
    names = names_job.get();
    names_t0 = names_job_t0, names_t1 = names_job_t1;
  }
  const bool current = names_t0 == t0 && names_t1 == t1;
  if (!current && !names_job.valid()) {
    names_job_t0 = t0, names_job_t1 = t1;
    if (async_stats) {
      names_job = std::async(std::launch::async, [&m = a, t0, t1] { return ComputeNameStats(m, t0, t1); });
    } else {
      names = ComputeNameStats(a, t0, t1);
      names_t0 = t0, names_t1 = t1;
      return true;
    }
  }
  return current;
}

const StatsIndex* ViewerData::Stats() {
  if (stats_index_job.valid() && stats_index_job.wait_for(std::chrono::seconds(0)) == std::future_status::ready)
    stats_index = stats_index_job.get();
  return stats_index.get();
}

DepGraph& TraceGraph::Deps(const TraceModel& m) {
  if (!deps) deps = std::make_unique<DepGraph>(m);
  return *deps;
}

void TraceGraph::EnsureCritical(const TraceModel& m) {
  if (critical_built) return;
  critical = CriticalPath(m, &Deps(m));
  critical_sorted = critical;
  std::sort(critical_sorted.begin(), critical_sorted.end());
  critical_built = true;
}

bool TraceGraph::OnCritical(uint32_t e) const {
  return critical_built && std::binary_search(critical_sorted.begin(), critical_sorted.end(), e);
}

void TraceGraph::Reset() {
  deps.reset();
  critical.clear(), critical_sorted.clear(), critical_built = false;
}

void ViewerData::EnsureCritical() {
  graph_a.EnsureCritical(a);
  if (b) graph_b.EnsureCritical(*b);
}

void ViewerData::EnsureSearch(const char* text) {
  if (searched == text) return;
  searched = text;
  hits = SearchByName(a, searched, 100000);
  hits_sorted = hits;  // already in index order
}

bool ViewerData::IsHit(uint32_t e) const { return std::binary_search(hits_sorted.begin(), hits_sorted.end(), e); }

void DrawToolbar(ViewerData& d, ViewState& vs) {
  if (ImGui::Button("Fit all (F)")) FitAll(d, vs);
  ImGui::SameLine();
  if (ImGui::Button("Zoom to selection (Z)")) ZoomToSelection(d, vs);
  ImGui::SameLine();
  if (ImGui::Checkbox("Critical path", &vs.critical_path) && vs.critical_path) d.EnsureCritical();
  if (vs.critical_path) d.EnsureCritical();
  ImGui::SameLine();
  ImGui::Checkbox("Flows", &vs.show_flows);
  ImGui::SameLine();
  ImGui::Checkbox("Statistics", &vs.show_stats);
  if (d.b) {
    ImGui::SameLine();
    ImGui::Checkbox("Colour B by difference", &vs.diff_colours);
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(220);
  ImGui::InputTextWithHint("##search", "search ops by name", vs.search, sizeof vs.search);
  d.EnsureSearch(vs.search);
  if (vs.search[0]) {
    ImGui::SameLine();
    ImGui::Text("%zu hits", d.hits.size());
    ImGui::SameLine();
    if (ImGui::Button("Next") && !d.hits.empty()) {
      auto it = std::upper_bound(d.hits.begin(), d.hits.end(), uint32_t(std::max<int64_t>(vs.selected, -1)));
      SelectEvent(d, vs, it == d.hits.end() ? d.hits.front() : *it, true);
    }
  }
  ImGui::SameLine();
  ImGui::TextDisabled("wheel: zoom  drag: pan  shift/right-drag: range  click: select");
}

void DrawViewerFrame(ViewerData& d, ViewState& vs, ImVec2 size) {
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(size);
  ImGui::Begin("ringlab-view", nullptr,
               ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoMove |
                   ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoBringToFrontOnFocus |
                   ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoBackground);  // see kViewerBackground
  // Without a background ImGui also leaves out the window's border: draw it as before, under everything.
  if (ImGui::GetStyle().WindowBorderSize > 0)
    ImGui::GetBackgroundDrawList()->AddRect(ImVec2(0, 0), size, ImGui::GetColorU32(ImGuiCol_Border),
                                            ImGui::GetStyle().WindowRounding, 0, ImGui::GetStyle().WindowBorderSize);
  DrawToolbar(d, vs);
  if (vs.show_legend) DrawLegend(d, vs);
  const float bottom = vs.show_stats ? std::max(150.f, size.y * 0.3f) : 0.f;
  const float avail = ImGui::GetContentRegionAvail().y;
  DrawTimeline(d, vs, ImVec2(0, std::max(100.f, avail - bottom)));
  auto tab = [&](const char* name) {
    return ImGui::BeginTabItem(name, nullptr, vs.select_tab == name ? ImGuiTabItemFlags_SetSelected : 0);
  };
  if (vs.show_stats && ImGui::BeginTabBar("panels")) {
    if (tab("Statistics")) {
      DrawStats(d, vs);
      ImGui::EndTabItem();
    }
    if (tab("Names")) {
      DrawNameStats(d, vs);
      ImGui::EndTabItem();
    }
    if (tab("Iterations")) {
      DrawIterations(d, vs);
      ImGui::EndTabItem();
    }
    if (d.b && tab("Compare")) {
      DrawCompare(d, vs);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("Selection")) {
      DrawSelection(d, vs);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("Search")) {
      DrawSearch(d, vs);
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
    vs.select_tab.clear();
  }
  ImGui::End();
}

}  // namespace ringlab::viz
