// View code run headless: an ImGui context with no backend (as ImGui's example_null), frames built and rendered
// to draw lists, input injected through ImGuiIO.
#include <gtest/gtest.h>

#include <cfloat>

#include "test_util.h"
#include "viz/synth.h"
#include "viz/views/views.h"

namespace ringlab::viz {
namespace {

class HeadlessViews : public ::testing::Test {
 protected:
  void SetUp() override {
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.DisplaySize = ImVec2(1280, 720);
    io.IniFilename = nullptr;
    unsigned char* px;
    int w, h;
    io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
    Trace t;
    ASSERT_TRUE(SynthTrace({.problem = DefaultProblem(), .world = 4}, {}, &t).ok());
    ModelFromTrace(t, &d.a, "synthetic");
    d.async_stats = false;
    d.Init();
  }
  void TearDown() override { ImGui::DestroyContext(); }
  void Frame() {
    ImGuiIO& io = ImGui::GetIO();
    io.DeltaTime = 1.f / 60;
    ImGui::NewFrame();
    DrawViewerFrame(d, vs, io.DisplaySize);
    ImGui::Render();
  }
  ImVec2 CentreOf(uint32_t ev) {
    const Event& e = d.a.events[ev];
    const TimelineLayout& L = vs.layout;
    float x = float(L.x0 + (e.ts + e.dur / 2 - L.t0) / (L.t1 - L.t0) * (L.x1 - L.x0));
    return ImVec2(x, L.lane_y0[e.lane] + 5);
  }
  ViewerData d;
  ViewState vs;
};

TEST_F(HeadlessViews, DrawsEveryLaneAndFitsTheRun) {
  Frame();
  Frame();
  EXPECT_GT(ImGui::GetDrawData()->TotalVtxCount, 1000);
  EXPECT_GT(vs.blocks_drawn, int64_t(d.a.events.size() / 2));
  EXPECT_LE(vs.t0, d.a.t_min);
  EXPECT_GE(vs.t1, d.a.t_max);
  ASSERT_EQ(vs.layout.lane_y0.size(), d.a.lanes.size());
  for (size_t i = 1; i < d.a.lanes.size(); ++i) EXPECT_GT(vs.layout.lane_y0[i], vs.layout.lane_y1[i - 1]);
}

TEST_F(HeadlessViews, ClickSelectsTheOpUnderTheMouseAndWheelZoomsAroundIt) {
  Frame();
  Frame();
  const uint32_t target = uint32_t(d.a.FindOp(1, 0));
  ImGuiIO& io = ImGui::GetIO();
  io.MousePos = CentreOf(target);
  Frame();
  EXPECT_EQ(vs.hovered, int64_t(target));
  io.MouseDown[0] = true;
  Frame();
  io.MouseDown[0] = false;
  Frame();
  EXPECT_EQ(vs.selected, int64_t(target));
  // Wheel: zoom in around the cursor; the time under the cursor stays put.
  const double span = vs.t1 - vs.t0;
  const double t_at = vs.t0 + (io.MousePos.x - vs.layout.x0) / (vs.layout.x1 - vs.layout.x0) * span;
  io.MouseWheel = 1;
  Frame();
  io.MouseWheel = 0;
  EXPECT_NEAR(vs.t1 - vs.t0, span * 0.8, span * 1e-9);
  const double t_after = vs.t0 + (io.MousePos.x - vs.layout.x0) / (vs.layout.x1 - vs.layout.x0) * (vs.t1 - vs.t0);
  EXPECT_NEAR(t_after, t_at, span * 1e-6);
  // Drag pans.
  const double t0 = vs.t0;
  io.MouseDown[0] = true;
  Frame();
  io.MousePos.x += 100;
  Frame();
  io.MouseDown[0] = false;
  Frame();
  EXPECT_LT(vs.t0, t0);
  EXPECT_EQ(vs.selected, int64_t(target));  // a drag is not a click
}

TEST_F(HeadlessViews, ZoomToSelectionFitAndPan) {
  vs.selected = d.a.FindOp(2, 3);
  ZoomToSelection(d, vs);
  const Event& e = d.a.events[size_t(vs.selected)];
  EXPECT_LE(vs.t0, e.ts);
  EXPECT_GE(vs.t1, e.End());
  EXPECT_LT(vs.t1 - vs.t0, 2 * e.dur);
  FitAll(d, vs);
  EXPECT_LE(vs.t0, d.a.t_min);
  double a = vs.t0;
  Pan(vs, 0.5);
  EXPECT_NEAR(vs.t0 - a, 0.5 * (vs.t1 - vs.t0), 1e-6);
}

TEST_F(HeadlessViews, CriticalPathSearchAndCompareRender) {
  vs.critical_path = true;
  snprintf(vs.search, sizeof vs.search, "send");
  vs.selected = d.a.FindOp(0, 2);
  Trace t;
  ASSERT_TRUE(SynthTrace({.problem = DefaultProblem(), .world = 4}, {.jitter = 0.3, .seed = 7}, &t).ok());
  d.b = std::make_unique<TraceModel>();
  ModelFromTrace(t, d.b.get(), "b");
  d.Init();
  Frame();
  Frame();
  EXPECT_TRUE(d.graph_a.critical_built);
  EXPECT_FALSE(d.graph_a.critical.empty());
  EXPECT_FALSE(d.hits.empty());
  ASSERT_TRUE(d.cmp);
  EXPECT_EQ(d.cmp->unmatched_a, 0);
  EXPECT_GT(d.cmp->kinds.back().mean_abs_rel_error, 0);
  // B rows are laid out under each A row.
  for (size_t l = 0; l < d.a.lanes.size(); ++l) EXPECT_GT(vs.layout.lane_b_y0[l], vs.layout.lane_y0[l]);
  // The other panels draw too.
  for (int i = 0; i < 2; ++i) {  // a new window shows from its second frame
    ImGui::NewFrame();
    ImGui::Begin("panels");
    DrawStats(d, vs);
    DrawCompare(d, vs);
    DrawSearch(d, vs);
    DrawSelection(d, vs);
    ImGui::End();
    ImGui::Render();
  }
  EXPECT_GT(ImGui::GetDrawData()->TotalVtxCount, 100);
  EXPECT_EQ(d.stats.ranks.size(), 4u);
}

// Vertices of the last frame drawn in `colour` whose y lies in one of the rows [y0[i], y1[i]].
int VerticesInRows(ImU32 colour, const std::vector<float>& y0, const std::vector<float>& y1) {
  int n = 0;
  const ImDrawData* dd = ImGui::GetDrawData();
  for (int l = 0; l < dd->CmdListsCount; ++l)
    for (const ImDrawVert& v : dd->CmdLists[l]->VtxBuffer)
      if (v.col == colour)
        for (size_t i = 0; i < y0.size(); ++i)
          if (v.pos.y >= y0[i] - 2 && v.pos.y <= y1[i] + 2) {
            ++n;
            break;
          }
  return n;
}

// Compare mode: an op of the second trace (B) is selected by clicking it in its row, and gets its own dependency
// arrows (from B's schedule) and its counterpart in A outlined; the critical path is found and drawn for B too.
TEST_F(HeadlessViews, CompareModeSelectsOpsOfBWithArrowsAndShowsBsCriticalPath) {
  Trace t;
  ASSERT_TRUE(SynthTrace({.problem = DefaultProblem(), .world = 4}, {.jitter = 0.3, .seed = 7}, &t).ok());
  d.b = std::make_unique<TraceModel>();
  ModelFromTrace(t, d.b.get(), "b");
  d.Init();
  vs.critical_path = true;
  Frame();
  Frame();
  ASSERT_TRUE(d.graph_b.critical_built);
  ASSERT_FALSE(d.graph_b.critical.empty());
  // B's path ends at B's last-ending op (B has its own timing, so its path need not be A's).
  double b_end = 0;
  for (const Event& e : d.b->events) b_end = std::max(b_end, e.End());
  EXPECT_DOUBLE_EQ(d.b->events[d.graph_b.critical.back()].End(), b_end);
  // Outlines of B's critical ops are drawn in B's rows.
  EXPECT_GT(VerticesInRows(kCriticalColor, vs.layout.lane_b_y0, vs.layout.lane_b_y1), 0);

  // Click the middle of B's copy of the first op on rank 1 that has both dependencies and dependants.
  vs.critical_path = false;
  int64_t a_op = -1;
  for (int op = 0; a_op < 0 && d.a.FindOp(1, op) >= 0; ++op) {
    const uint32_t ev = uint32_t(d.a.FindOp(1, op));
    if (!d.graph_a.Deps(d.a).DepsOf(ev).empty() && !d.graph_a.Deps(d.a).DependantsOf(ev).empty()) a_op = ev;
  }
  ASSERT_GE(a_op, 0);
  const int64_t b_op = d.cmp->b_of_a[size_t(a_op)];
  ASSERT_GE(b_op, 0);
  const Event& e = d.b->events[size_t(b_op)];
  const TimelineLayout& L = vs.layout;
  ImGuiIO& io = ImGui::GetIO();
  const double t_mid = e.ts - d.cmp->start_shift_us + e.dur / 2;
  io.MousePos = ImVec2(float(L.x0 + (t_mid - L.t0) / (L.t1 - L.t0) * (L.x1 - L.x0)), L.lane_b_y0[e.lane] + 5);
  Frame();
  io.MouseDown[0] = true;
  Frame();
  io.MouseDown[0] = false;
  Frame();
  io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  Frame();
  EXPECT_TRUE(vs.selected_b);
  EXPECT_EQ(vs.selected, b_op);
  // Its dependencies come from B's own graph, with the same ops (by op id) as A's op has in A.
  ASSERT_TRUE(d.graph_b.deps);
  const std::vector<DepEdge> deps_b = d.graph_b.deps->DepsOf(uint32_t(b_op));
  const std::vector<DepEdge> deps_a = d.graph_a.Deps(d.a).DepsOf(uint32_t(a_op));
  ASSERT_FALSE(deps_b.empty());
  ASSERT_EQ(deps_b.size(), deps_a.size());
  for (size_t i = 0; i < deps_b.size(); ++i)
    EXPECT_EQ(d.cmp->a_of_b[deps_b[i].from], int64_t(deps_a[i].from));
  // Arrows start in B's rows (at B's dependencies), none in A's rows lead to it.
  EXPECT_GT(VerticesInRows(kDepArrowColor, L.lane_b_y0, L.lane_b_y1), 0);
  EXPECT_GT(VerticesInRows(kDependantArrowColor, L.lane_b_y0, L.lane_b_y1), 0);
  // The Selection panel lists B's dependencies (a new window shows from its second frame).
  for (int i = 0; i < 2; ++i) {
    ImGui::NewFrame();
    ImGui::Begin("selection");
    DrawSelection(d, vs);
    ImGui::End();
    ImGui::Render();
  }
  EXPECT_GT(ImGui::GetDrawData()->TotalVtxCount, 200);
  EXPECT_EQ(vs.selected, b_op);  // drawing the list selected nothing else
}

}  // namespace
}  // namespace ringlab::viz
