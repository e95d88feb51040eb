#include "viz/app/frame_bench.h"

#include <GLFW/glfw3.h>
#include <imgui.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "viz/app/window.h"
#include "viz/timing.h"
#include "viz/views/views.h"

namespace ringlab::viz {
namespace {

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

// One zoom level to time.
struct Zoom {
  const char* name;
  double t0, t1;
  bool zoom_steps = false;
};

// Mean, median, 95th percentile and maximum.
std::array<double, 4> Summary(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  return std::array<double, 4>{sum / double(v.size()), v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 95 / 100)],
                               v.back()};
}

nlohmann::json TimeZoom(GLFWwindow* win, ViewerData& d, ViewState& vs, const ViewOptions& opt, const Zoom& z) {
  const bool headless = true;  // --bench-frames always runs headless
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
  auto [mean, median, p95, mx] = Summary(ms);
  const double px = double(opt.width) * double(opt.height);
  return {{"mean_ms", mean},
          {"median_ms", median},
          {"p95_ms", p95},
          {"max_ms", mx},
          {"cpu_mean_ms", Summary(cpu)[0]},
          {"cpu_median_ms", Summary(cpu)[1]},
          {"build_cpu_median_ms", Summary(build)[1]},
          {"build_median_ms", Summary(build_wall)[1]},
          {"swap_median_ms", Summary(swap)[1]},
          {"blocks", blocks},
          {"vertices", counts.vertices},
          {"indices", counts.indices},
          {"draw_calls", counts.commands},
          {"overdraw", counts.covered_px / px}};
}

}  // namespace

void RunFrameBench(GLFWwindow* win, ViewerData& d, ViewState& vs, const ViewOptions& opt, LoadTimes load) {
  nlohmann::json out;
  out["events"] = d.a.events.size();
  out["load_ms"] = load.wall_ms;
  out["load_cpu_ms"] = load.cpu_ms;
  out["width"] = opt.width, out["height"] = opt.height;
  const double span = d.a.t_max - d.a.t_min, mid = d.a.t_min + span / 2;
  const Zoom zooms[] = {{"zoomed_out", d.a.t_min, d.a.t_max},
                        // Zoomed out while zooming: every frame is a wheel step (in, then out), so no far-out
                        // coverage cached at one zoom level can be reused (the worst case of coverage_cache.h).
                        {"zoomed_out_zoom_steps", d.a.t_min, d.a.t_max, true},
                        {"zoomed_in", mid, mid + std::max(span * 1e-4, 1.0)},
                        {"mid", mid - span * 0.02, mid + span * 0.02}};
  // The statistics index is built on a worker thread after loading; time frames once it is there (a user sees
  // "computing statistics..." for that long). Its build time is reported beside the load time.
  const auto i0 = Clock::now();
  while (!d.Stats()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  out["stats_index_ready_ms"] = Ms(i0, Clock::now());
  for (const Zoom& z : zooms) out[z.name] = TimeZoom(win, d, vs, opt, z);
  out["gl_renderer"] = reinterpret_cast<const char*>(glGetString(GL_RENDERER));
  std::cout << out.dump() << "\n";
}

}  // namespace ringlab::viz
