// ringlab-view: the GLFW + OpenGL3 application around the viewer panels, with a headless screenshot mode.
#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "viz/app/options.h"
#include "viz/app/solid_program.h"
#include "viz/views/views.h"

using namespace ringlab;
using namespace ringlab::viz;

namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }
// CPU time of the whole process (all threads, llvmpipe's rasteriser threads included), milliseconds. On a shared,
// loaded machine this is the honest cost of a frame; wall time also counts waiting for a core.
double CpuMs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

// What a frame asks the rasteriser to do: vertices, indices, draw calls, and the pixels covered by its triangles
// (each clipped to its command's scissor rectangle by bounding box), as a multiple of the window's pixels.
struct DrawCounts {
  int64_t vertices = 0, indices = 0, commands = 0;
  double covered_px = 0;
};
DrawCounts CountDrawData(const ImDrawData* dd) {
  DrawCounts c;
  if (!dd) return c;
  for (int l = 0; l < dd->CmdListsCount; ++l) {
    const ImDrawList* cl = dd->CmdLists[l];
    c.vertices += cl->VtxBuffer.Size;
    c.indices += cl->IdxBuffer.Size;
    for (const ImDrawCmd& cmd : cl->CmdBuffer) {
      if (cmd.UserCallback) continue;
      ++c.commands;
      const ImVec4 r = cmd.ClipRect;
      for (unsigned i = 0; i + 2 < cmd.ElemCount; i += 3) {
        const ImVec2& a = cl->VtxBuffer[int(cmd.VtxOffset + cl->IdxBuffer[int(cmd.IdxOffset + i)])].pos;
        const ImVec2& b = cl->VtxBuffer[int(cmd.VtxOffset + cl->IdxBuffer[int(cmd.IdxOffset + i + 1)])].pos;
        const ImVec2& d = cl->VtxBuffer[int(cmd.VtxOffset + cl->IdxBuffer[int(cmd.IdxOffset + i + 2)])].pos;
        const double area = std::abs(double(b.x - a.x) * (d.y - a.y) - double(d.x - a.x) * (b.y - a.y)) / 2;
        const float bx0 = std::min({a.x, b.x, d.x}), bx1 = std::max({a.x, b.x, d.x});
        const float by0 = std::min({a.y, b.y, d.y}), by1 = std::max({a.y, b.y, d.y});
        const double bw = double(bx1 - bx0) * (by1 - by0);
        if (bw <= 0) continue;
        const double iw = std::max(0.f, std::min(bx1, r.z) - std::max(bx0, r.x)),
                     ih = std::max(0.f, std::min(by1, r.w) - std::max(by0, r.y));
        c.covered_px += area * std::min(1.0, iw * ih / bw);
      }
    }
  }
  return c;
}

int Fail(const std::string& msg) {
  std::cerr << "ringlab-view: " << msg << "\n";
  return 2;
}

// One frame: input, panels, draw. *build_ms (when given) gets the CPU time of building the draw lists (all threads),
// *build_wall_ms its wall time.
void RenderFrame(GLFWwindow* win, ViewerData& d, ViewState& vs, bool headless, double* build_ms = nullptr,
                 double* build_wall_ms = nullptr) {
  glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  // Headless: nobody holds the mouse (under Xvfb the pointer sits mid-screen and would open a tooltip).
  if (headless) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  const double c0 = build_ms ? CpuMs() : 0;
  const auto w0 = Clock::now();
  ImGui::NewFrame();
  DrawViewerFrame(d, vs, ImGui::GetIO().DisplaySize);
  ImGui::Render();
  if (build_ms) *build_ms = CpuMs() - c0;
  if (build_wall_ms) *build_wall_ms = Ms(w0, Clock::now());
  int w, h;
  glfwGetFramebufferSize(win, &w, &h);
  glViewport(0, 0, w, h);
  glClearColor(kViewerBackground[0], kViewerBackground[1], kViewerBackground[2], 1);
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
  const double cpu_load0 = CpuMs();
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
  const double load_ms = Ms(t_load0, Clock::now()), load_cpu_ms = CpuMs() - cpu_load0;
  if (d.a.empty()) return Fail("the trace has no complete (ph X) events to show");
  d.Init();
  ViewState vs;
  vs.opaque_begin = BeginOpaqueSolid;
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
  // A plain visual: no multisampling, no depth or stencil buffer, no sRGB conversion. ImGui needs none of them, and
  // with software GL (Mesa llvmpipe under Xvfb) each one is per-pixel work or memory traffic in every frame.
  glfwWindowHint(GLFW_SAMPLES, 0);
  glfwWindowHint(GLFW_DEPTH_BITS, 0);
  glfwWindowHint(GLFW_STENCIL_BITS, 0);
  glfwWindowHint(GLFW_SRGB_CAPABLE, GLFW_FALSE);
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
  // Font atlas sampled nearest, not bilinear: ImGui places glyphs on whole pixels at scale 1, so text looks the same,
  // and llvmpipe's nearest sampling is much cheaper for every pixel of every quad (solid rectangles sample the
  // atlas's white texel too).
  ImGui_ImplOpenGL3_CreateDeviceObjects();
  glBindTexture(GL_TEXTURE_2D, GLuint(intptr_t(ImGui::GetIO().Fonts->TexID)));
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);

  int rc = 0;
  if (opt.bench_frames > 0) {
    nlohmann::json out;
    out["events"] = d.a.events.size();
    out["load_ms"] = load_ms;
    out["load_cpu_ms"] = load_cpu_ms;
    out["width"] = opt.width, out["height"] = opt.height;
    const double span = d.a.t_max - d.a.t_min, mid = d.a.t_min + span / 2;
    struct Z {
      const char* name;
      double t0, t1;
      bool zoom_steps = false;
    } zooms[] = {{"zoomed_out", d.a.t_min, d.a.t_max},
                 // Zoomed out while zooming: every frame is a wheel step (in, then out), so no far-out coverage
                 // cached at one zoom level can be reused (the worst case of coverage_cache.h).
                 {"zoomed_out_zoom_steps", d.a.t_min, d.a.t_max, true},
                 {"zoomed_in", mid, mid + std::max(span * 1e-4, 1.0)},
                 {"mid", mid - span * 0.02, mid + span * 0.02}};
    // The statistics index is built on a worker thread after loading; time frames once it is there (a user sees
    // "computing statistics..." for that long). Its build time is reported beside the load time.
    const auto i0 = Clock::now();
    while (!d.Stats()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    out["stats_index_ready_ms"] = Ms(i0, Clock::now());
    for (const Z& z : zooms) {
      vs.t0 = z.t0, vs.t1 = z.t1;
      for (int i = 0; i < 3; ++i) RenderFrame(win, d, vs, headless), glfwSwapBuffers(win);  // warm up
      std::vector<double> ms, cpu, build, build_wall, swap;
      int64_t blocks = 0;
      DrawCounts counts;
      for (int i = 0; i < opt.bench_frames; ++i) {
        // Pan a little each frame (1.5 px), as a drag does: the statistics and every lane's level of detail are
        // recomputed; far-out coverage reuses the columns still in view. Or a wheel step in or out.
        if (z.zoom_steps) {
          ZoomAround(vs, (vs.t0 + vs.t1) / 2, i % 2 ? 1 / 0.8 : 0.8);
        } else {
          double dt = (z.t1 - z.t0) * 0.001 * (i % 2 ? 1 : -1);
          vs.t0 += dt, vs.t1 += dt;
        }
        auto a = Clock::now();
        const double c0 = CpuMs();
        double build_ms = 0, build_wall_ms = 0;
        RenderFrame(win, d, vs, headless, &build_ms, &build_wall_ms);
        glFinish();
        ms.push_back(Ms(a, Clock::now()));
        auto s0 = Clock::now();
        glfwSwapBuffers(win);
        swap.push_back(Ms(s0, Clock::now()));
        cpu.push_back(CpuMs() - c0);
        build.push_back(build_ms);
        build_wall.push_back(build_wall_ms);
        blocks = vs.blocks_drawn;
        if (i == 0) counts = CountDrawData(ImGui::GetDrawData());
      }
      auto summary = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        double sum = 0;
        for (double x : v) sum += x;
        return std::array<double, 4>{sum / double(v.size()), v[v.size() / 2],
                                     v[std::min(v.size() - 1, v.size() * 95 / 100)], v.back()};
      };
      auto [mean, median, p95, mx] = summary(ms);
      const double px = double(opt.width) * double(opt.height);
      out[z.name] = {{"mean_ms", mean},
                     {"median_ms", median},
                     {"p95_ms", p95},
                     {"max_ms", mx},
                     {"cpu_mean_ms", summary(cpu)[0]},
                     {"cpu_median_ms", summary(cpu)[1]},
                     {"build_cpu_median_ms", summary(build)[1]},
                     {"build_median_ms", summary(build_wall)[1]},
                     {"swap_median_ms", summary(swap)[1]},
                     {"blocks", blocks},
                     {"vertices", counts.vertices},
                     {"indices", counts.indices},
                     {"draw_calls", counts.commands},
                     {"overdraw", counts.covered_px / px}};
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
    // Frames are drawn only when something can have changed: input or a resize (callbacks below count them), for a
    // few frames after it (ImGui settles hover and focus over a frame or two), while statistics are being computed
    // and while a text field has focus (its cursor blinks). An idle viewer costs no CPU.
    static int input_events = 0;
    glfwSetCursorPosCallback(win, [](GLFWwindow*, double, double) { ++input_events; });
    glfwSetWindowSizeCallback(win, [](GLFWwindow*, int, int) { ++input_events; });
    glfwSetWindowRefreshCallback(win, [](GLFWwindow*) { ++input_events; });
    // ImGui's backend installed its own button/scroll/key/char/focus callbacks; ours go in front and chain to them.
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
    int settle = 3;
    while (!glfwWindowShouldClose(win)) {
      d.Stats();  // collects a finished statistics index even while the statistics panel is hidden
      const bool busy = d.StatsPending() || ImGui::GetIO().WantTextInput;
      if (settle <= 0) glfwWaitEventsTimeout(busy ? 0.1 : 0.5);
      if (input_events) input_events = 0, settle = 3;
      if (settle <= 0 && !busy) continue;
      RenderFrame(win, d, vs, headless);
      glfwSwapBuffers(win);
      if (settle > 0) --settle;
    }
  }
  ReleaseOpaqueSolid();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(win);
  glfwTerminate();
  return rc;
}
