// ringlab-view: the GLFW + OpenGL3 application around the viewer panels, with a headless screenshot mode and a
// frame benchmark. main: parse options, load the traces, set up the view, open the window, run one mode, close.
#include <GLFW/glfw3.h>
#include <imgui.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "viz/app/frame_bench.h"
#include "viz/app/options.h"
#include "core/output_file.h"
#include "viz/app/solid_program.h"
#include "viz/app/window.h"
#include "viz/timing.h"
#include "viz/views/views.h"

using namespace ringlab;
using namespace ringlab::viz;

namespace {

int Fail(const std::string& msg) {
  std::cerr << "ringlab-view: " << msg << "\n";
  return 2;
}

// A (and B with --compare), timed.
Status LoadTraces(const ViewOptions& opt, ViewerData* d, LoadTimes* load) {
  auto t_load0 = Clock::now();
  const double cpu_load0 = CpuMs();
  LoadOptions lo;
  lo.separate_runs = opt.separate_runs;
  lo.use_cache = opt.cache;
  RINGLAB_RETURN_IF_ERROR(LoadTraceFiles(opt.files, &d->a, lo));
  if (opt.compare) {
    d->b = std::make_unique<TraceModel>();
    RINGLAB_RETURN_IF_ERROR(LoadTraceFiles(opt.files_b, d->b.get(), lo));
  }
  load->wall_ms = Ms(t_load0, Clock::now()), load->cpu_ms = CpuMs() - cpu_load0;
  if (d->a.empty()) return Status::InvalidArgument("the trace has no complete (ph X) events to show");
  return Status::Ok();
}

// The view the options ask for: panels, search, time range and the selected op.
Status SetUpView(const ViewOptions& opt, ViewerData& d, ViewState* vs) {
  vs->opaque_begin = BeginOpaqueSolid;
  vs->show_stats = !opt.no_stats;
  vs->critical_path = opt.critical_path;
  vs->show_flows = opt.flows;
  vs->select_tab = opt.tab;
  snprintf(vs->search, sizeof vs->search, "%s", opt.search.c_str());
  FitAll(d, *vs);
  vs->fit_request = false;
  if (opt.has_range) vs->t0 = d.a.t_min + opt.range_a, vs->t1 = d.a.t_min + opt.range_b;
  if (!opt.has_select) return Status::Ok();
  // A schedule op id, else (traces without op ids) the op-th event of the rank's first lane.
  int64_t e = d.a.FindOp(opt.select_rank, opt.select_op);
  if (e < 0) {
    auto lanes = d.a.LanesOfRank(opt.select_rank);
    if (!lanes.empty() && uint32_t(opt.select_op) < d.a.lanes[size_t(lanes[0])].end - d.a.lanes[size_t(lanes[0])].begin)
      e = d.a.lanes[size_t(lanes[0])].begin + uint32_t(opt.select_op);
  }
  if (e < 0)
    return Status::InvalidArgument("--select " + std::to_string(opt.select_rank) + ":" +
                                   std::to_string(opt.select_op) + ": no such op in the trace");
  vs->selected = e;
  return Status::Ok();
}

std::string LayoutJson(const ViewerData& d, const ViewState& vs) {
  nlohmann::json j;
  j["x0"] = vs.layout.x0, j["x1"] = vs.layout.x1, j["t0"] = vs.layout.t0, j["t1"] = vs.layout.t1;
  j["t_min"] = d.a.t_min;
  j["lanes"] = nlohmann::json::array();
  for (size_t i = 0; i < d.a.lanes.size(); ++i)
    j["lanes"].push_back({{"name", d.a.lanes[i].name},
                          {"rank", d.a.lanes[i].rank},
                          {"stream", d.a.lanes[i].stream},
                          {"y0", vs.layout.lane_y0[i]},
                          {"y1", vs.layout.lane_y1[i]}});
  j["counters"] = nlohmann::json::array();
  for (size_t i = 0; i < d.a.counters.size(); ++i)
    j["counters"].push_back({{"name", d.a.counters[i].name},
                             {"rank", d.a.counters[i].rank},
                             {"y0", vs.layout.counter_y0[i]},
                             {"y1", vs.layout.counter_y1[i]}});
  return j.dump(1) + "\n";
}

// --screenshot: a few frames, then the back buffer to PNG (and the lane layout to JSON with --layout).
int TakeScreenshot(GLFWwindow* win, ViewerData& d, ViewState& vs, const ViewOptions& opt) {
  for (int i = 0; i < opt.frames; ++i) {
    RenderFrame(win, d, vs, /*headless=*/true);
    if (i + 1 < opt.frames) glfwSwapBuffers(win);
  }
  glFinish();
  // Both outputs whole or neither (core/output_file.h); "wrote" lines go to stderr so `--screenshot -` is only the PNG.
  std::vector<std::pair<std::string, std::string>> outputs(1);
  outputs[0].first = opt.screenshot;
  if (!EncodePng(win, &outputs[0].second)) return Fail("cannot encode the screenshot for '" + opt.screenshot + "'");
  if (!opt.layout.empty()) outputs.push_back({opt.layout, LayoutJson(d, vs)});
  OutputBatch batch;
  for (const auto& [path, bytes] : outputs)
    if (Status s = batch.Add(path, bytes); !s.ok()) return Fail(s.message());
  if (Status s = batch.Commit(); !s.ok()) return Fail(s.message());
  for (const auto& [path, bytes] : outputs) std::cerr << "wrote " << (path == "-" ? "standard output" : path) << "\n";
  return 0;
}

// Input events since the interactive loop last looked (counted by the GLFW callbacks below).
int input_events = 0;

// Counts every input event and resize. ImGui's backend installed its own button/scroll/key/char/focus callbacks;
// ours go in front and chain to them.
void CountInputEvents(GLFWwindow* win) {
  glfwSetCursorPosCallback(win, [](GLFWwindow*, double, double) { ++input_events; });
  glfwSetWindowSizeCallback(win, [](GLFWwindow*, int, int) { ++input_events; });
  glfwSetWindowRefreshCallback(win, [](GLFWwindow*) { ++input_events; });
  static GLFWmousebuttonfun prev_button = nullptr;
  static GLFWscrollfun prev_scroll = nullptr;
  static GLFWkeyfun prev_key = nullptr;
  static GLFWcharfun prev_char = nullptr;
  static GLFWwindowfocusfun prev_focus = nullptr;
  prev_button = glfwSetMouseButtonCallback(win, [](GLFWwindow* w, int b, int a, int m) {
    ++input_events;
    if (prev_button) prev_button(w, b, a, m);
  });
  prev_scroll = glfwSetScrollCallback(win, [](GLFWwindow* w, double x, double y) {
    ++input_events;
    if (prev_scroll) prev_scroll(w, x, y);
  });
  prev_key = glfwSetKeyCallback(win, [](GLFWwindow* w, int k, int sc, int a, int m) {
    ++input_events;
    if (prev_key) prev_key(w, k, sc, a, m);
  });
  prev_char = glfwSetCharCallback(win, [](GLFWwindow* w, unsigned c) {
    ++input_events;
    if (prev_char) prev_char(w, c);
  });
  prev_focus = glfwSetWindowFocusCallback(win, [](GLFWwindow* w, int f) {
    ++input_events;
    if (prev_focus) prev_focus(w, f);
  });
}

// Frames are drawn only when something can have changed: input or a resize, for a few frames after it (ImGui settles
// hover and focus over a frame or two), while statistics are being computed and while a text field has focus (its
// cursor blinks). An idle viewer costs no CPU.
void RunInteractive(GLFWwindow* win, ViewerData& d, ViewState& vs) {
  CountInputEvents(win);
  int settle = 3;
  while (!glfwWindowShouldClose(win)) {
    d.Stats();  // collects a finished statistics index even while the statistics panel is hidden
    const bool busy = d.StatsPending() || ImGui::GetIO().WantTextInput;
    if (settle <= 0) glfwWaitEventsTimeout(busy ? 0.1 : 0.5);
    if (input_events) input_events = 0, settle = 3;
    if (settle <= 0 && !busy) continue;
    RenderFrame(win, d, vs, /*headless=*/false);
    glfwSwapBuffers(win);
    if (settle > 0) --settle;
  }
}

}  // namespace

int main(int argc, char** argv) {
  ViewOptions opt;
  Status st = ParseViewOptions(std::vector<std::string>(argv + 1, argv + argc), &opt);
  if (!st.ok()) return Fail(st.message() + "\n\n" + kViewUsage);
  if (opt.help) {
    std::cout << kViewUsage;
    return 0;
  }
  ViewerData d;
  LoadTimes load;
  if (st = LoadTraces(opt, &d, &load); !st.ok()) return Fail(st.message());
  d.compare_options.iteration_a = opt.iteration_a, d.compare_options.iteration_b = opt.iteration_b;
  d.Init();
  ViewState vs;
  if (st = SetUpView(opt, d, &vs); !st.ok()) return Fail(st.message());
  const bool headless = !opt.screenshot.empty() || opt.bench_frames > 0;
  GLFWwindow* win = nullptr;
  if (st = OpenViewerWindow(opt.width, opt.height, "ringlab-view: " + d.run.files, headless, &win); !st.ok())
    return Fail(st.message());
  int rc = 0;
  if (opt.bench_frames > 0) RunFrameBench(win, d, vs, opt, load);
  else if (!opt.screenshot.empty()) rc = TakeScreenshot(win, d, vs, opt);
  else RunInteractive(win, d, vs);
  CloseViewerWindow(win);
  return rc;
}
