// ringlab-view: the GLFW + OpenGL3 application around the viewer panels, with a headless screenshot mode.
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "viz/app/options.h"
#include "viz/views/views.h"

using namespace ringlab;
using namespace ringlab::viz;

namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

int Fail(const std::string& msg) {
  std::cerr << "ringlab-view: " << msg << "\n";
  return 2;
}

void RenderFrame(GLFWwindow* win, ViewerData& d, ViewState& vs, bool headless) {
  glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  // Headless: nobody holds the mouse (under Xvfb the pointer sits mid-screen and would open a tooltip).
  if (headless) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  ImGui::NewFrame();
  DrawViewerFrame(d, vs, ImGui::GetIO().DisplaySize);
  ImGui::Render();
  int w, h;
  glfwGetFramebufferSize(win, &w, &h);
  glViewport(0, 0, w, h);
  glClearColor(0.09f, 0.09f, 0.1f, 1);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

bool WritePng(GLFWwindow* win, const std::string& path) {
  int w, h;
  glfwGetFramebufferSize(win, &w, &h);
  std::vector<unsigned char> px(size_t(w) * size_t(h) * 3), flip(px.size());
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, px.data());
  for (int y = 0; y < h; ++y)
    std::copy_n(&px[size_t(h - 1 - y) * size_t(w) * 3], size_t(w) * 3, &flip[size_t(y) * size_t(w) * 3]);
  return stbi_write_png(path.c_str(), w, h, 3, flip.data(), w * 3) != 0;
}

void WriteLayout(const ViewerData& d, const ViewState& vs, const std::string& path) {
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
  std::ofstream(path) << j.dump(1) << "\n";
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
  auto t_load0 = Clock::now();
  if (opt.compare) {
    st = LoadTraceFiles({opt.files[0]}, &d.a);
    if (st.ok()) {
      d.b = std::make_unique<TraceModel>();
      st = LoadTraceFiles({opt.files[1]}, d.b.get());
    }
  } else {
    st = LoadTraceFiles(opt.files, &d.a);
  }
  if (!st.ok()) return Fail(st.message());
  const double load_ms = Ms(t_load0, Clock::now());
  if (d.a.empty()) return Fail("the trace has no complete (ph X) events to show");
  d.Init();
  ViewState vs;
  vs.show_stats = !opt.no_stats;
  vs.critical_path = opt.critical_path;
  snprintf(vs.search, sizeof vs.search, "%s", opt.search.c_str());
  FitAll(d, vs);
  vs.fit_request = false;
  if (opt.has_range) vs.t0 = d.a.t_min + opt.range_a, vs.t1 = d.a.t_min + opt.range_b;
  if (opt.has_select) {
    int64_t e = d.a.FindOp(opt.select_rank, opt.select_op);
    if (e < 0) {
      auto lanes = d.a.LanesOfRank(opt.select_rank);
      if (!lanes.empty() && uint32_t(opt.select_op) < d.a.lanes[size_t(lanes[0])].end - d.a.lanes[size_t(lanes[0])].begin)
        e = d.a.lanes[size_t(lanes[0])].begin + uint32_t(opt.select_op);
    }
    if (e < 0) return Fail("--select " + std::to_string(opt.select_rank) + ":" + std::to_string(opt.select_op) +
                           ": no such op in the trace");
    vs.selected = e;
  }
  const bool headless = !opt.screenshot.empty() || opt.bench_frames > 0;

  glfwSetErrorCallback([](int code, const char* msg) { std::cerr << "glfw error " << code << ": " << msg << "\n"; });
  if (!glfwInit()) return Fail("cannot initialise GLFW (no display? run under xvfb-run -a, or use scripts/screenshot.sh)");
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_RESIZABLE, headless ? GLFW_FALSE : GLFW_TRUE);
  std::string title = "ringlab-view: " + d.run.files;
  GLFWwindow* win = glfwCreateWindow(opt.width, opt.height, title.c_str(), nullptr, nullptr);
  if (!win) {
    glfwTerminate();
    return Fail("cannot create an OpenGL 3.3 window (no display? run under xvfb-run -a)");
  }
  glfwMakeContextCurrent(win);
  glfwSwapInterval(headless ? 0 : 1);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(win, true);
  ImGui_ImplOpenGL3_Init("#version 330 core");

  int rc = 0;
  if (opt.bench_frames > 0) {
    nlohmann::json out;
    out["events"] = d.a.events.size();
    out["load_ms"] = load_ms;
    out["width"] = opt.width, out["height"] = opt.height;
    const double span = d.a.t_max - d.a.t_min, mid = d.a.t_min + span / 2;
    struct Z {
      const char* name;
      double t0, t1;
    } zooms[] = {{"zoomed_out", d.a.t_min, d.a.t_max},
                 {"zoomed_in", mid, mid + std::max(span * 1e-4, 1.0)},
                 {"mid", mid - span * 0.02, mid + span * 0.02}};
    for (const Z& z : zooms) {
      vs.t0 = z.t0, vs.t1 = z.t1;
      for (int i = 0; i < 3; ++i) RenderFrame(win, d, vs, headless), glfwSwapBuffers(win);  // warm up
      std::vector<double> ms;
      int64_t blocks = 0;
      for (int i = 0; i < opt.bench_frames; ++i) {
        // Pan a little each frame so nothing is cached between frames.
        double dt = (z.t1 - z.t0) * 0.001 * (i % 2 ? 1 : -1);
        vs.t0 += dt, vs.t1 += dt;
        auto a = Clock::now();
        RenderFrame(win, d, vs, headless);
        glFinish();
        ms.push_back(Ms(a, Clock::now()));
        blocks = vs.blocks_drawn;
        glfwSwapBuffers(win);
      }
      std::sort(ms.begin(), ms.end());
      double sum = 0;
      for (double x : ms) sum += x;
      out[z.name] = {{"mean_ms", sum / double(ms.size())},
                     {"median_ms", ms[ms.size() / 2]},
                     {"p95_ms", ms[std::min(ms.size() - 1, ms.size() * 95 / 100)]},
                     {"max_ms", ms.back()},
                     {"blocks", blocks}};
    }
    out["gl_renderer"] = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
    std::cout << out.dump() << "\n";
  } else if (!opt.screenshot.empty()) {
    for (int i = 0; i < opt.frames; ++i) {
      RenderFrame(win, d, vs, headless);
      if (i + 1 < opt.frames) glfwSwapBuffers(win);
    }
    glFinish();
    if (!WritePng(win, opt.screenshot)) rc = Fail("cannot write '" + opt.screenshot + "'");
    else std::cout << "wrote " << opt.screenshot << "\n";
    if (!opt.layout.empty()) WriteLayout(d, vs, opt.layout);
  } else {
    while (!glfwWindowShouldClose(win)) {
      RenderFrame(win, d, vs, headless);
      glfwSwapBuffers(win);
    }
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(win);
  glfwTerminate();
  return rc;
}
