// viz-bench: loads a trace and times it, then builds frames of the viewer with ImGui and no backend (the CPU side
// of a frame: LOD, draw lists) zoomed out and zoomed in. The GPU side is timed by `ringlab-view --bench-frames`.
//   viz-bench TRACE.json [FRAMES]   -> one JSON line
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "viz/model.h"
#include "viz/stats.h"
#include "viz/stats_index.h"
#include "viz/timing.h"
#ifdef RINGLAB_VIZ_HAVE_VIEWS
#include "viz/views/views.h"
#endif

using namespace ringlab;
using namespace ringlab::viz;

int main(int argc, char** argv) {
  if (argc < 2) return std::cerr << "usage: viz-bench TRACE.json [FRAMES]\n", 2;
  const int frames = argc > 2 ? std::atoi(argv[2]) : 50;
  nlohmann::json out;
  auto t0 = Clock::now();
  std::string buf;
  Status s = ReadFileMaybeGz(argv[1], &buf);
  auto t1 = Clock::now();
  if (!s.ok()) return std::cerr << s.message() << "\n", 2;
  out["file_mb"] = double(buf.size()) / 1e6;
  buf.clear();
  buf.shrink_to_fit();
  ViewerData d;
  auto t2 = Clock::now();
  const double c2 = CpuMs();
  s = LoadTraceFiles({argv[1]}, &d.a);
  auto t3 = Clock::now();
  out["load_cpu_ms"] = CpuMs() - c2;
  if (!s.ok()) return std::cerr << s.message() << "\n", 2;
  out["events"] = d.a.events.size();
  out["read_ms"] = Ms(t0, t1);
  out["load_ms"] = Ms(t2, t3);
  {
    // The binary cache beside the trace (viz/loader/cache.h): the first load parses and writes it, later ones read it.
    LoadOptions cached;
    cached.use_cache = true;
    cached.cache_min_bytes = 0;
    std::remove((std::string(argv[1]) + ".rlcache").c_str());
    for (const char* key : {"load_writing_cache_ms", "load_from_cache_ms", "load_from_cache_again_ms"}) {
      TraceModel m;
      const auto c0 = Clock::now();
      const double cpu0 = CpuMs();
      if (Status cs = LoadTraceFiles({argv[1]}, &m, cached); !cs.ok()) return std::cerr << cs.message() << "\n", 2;
      out[key] = Ms(c0, Clock::now());
      out[std::string(key).replace(std::string(key).size() - 3, 3, "_cpu_ms")] = CpuMs() - cpu0;
      if (m.events.size() != d.a.events.size()) return std::cerr << "cached load differs\n", 1;
    }
  }
  auto t4 = Clock::now();
  WindowStats ws = ComputeWindowStats(d.a, d.a.t_min, d.a.t_max);
  out["stats_all_ms"] = Ms(t4, Clock::now());
  // What the viewer does instead: an index built once, then any window in microseconds.
  auto t5 = Clock::now();
  StatsIndex index(d.a);
  out["stats_index_build_ms"] = Ms(t5, Clock::now());
  auto t6 = Clock::now();
  for (int i = 0; i < 100; ++i) ws = index.Compute(d.a.t_min + i, d.a.t_max - i);
  out["stats_index_window_us"] = Ms(t6, Clock::now()) * 1e3 / 100;
#ifdef RINGLAB_VIZ_HAVE_VIEWS
  d.async_stats = false;  // frames with statistics from the first one
  d.Init();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.DisplaySize = ImVec2(1600, 900);
  io.IniFilename = nullptr;
  unsigned char* px;
  int w, h;
  io.Fonts->GetTexDataAsRGBA32(&px, &w, &h);
  ViewState vs;
  const double span = d.a.t_max - d.a.t_min, mid = d.a.t_min + span / 2;
  struct Z {
    const char* name;
    double t0, t1;
  } zooms[] = {{"zoomed_out", d.a.t_min, d.a.t_max}, {"zoomed_in", mid, mid + std::max(span * 1e-4, 1.0)}};
  for (const Z& z : zooms) {
    vs.t0 = z.t0, vs.t1 = z.t1, vs.fit_request = false;
    std::vector<double> ms, cpu;
    for (int i = 0; i < frames + 3; ++i) {
      double dt = (z.t1 - z.t0) * 0.001 * (i % 2 ? 1 : -1);
      vs.t0 += dt, vs.t1 += dt;
      io.DeltaTime = 1.f / 60;
      auto a = Clock::now();
      const double c = CpuMs();
      ImGui::NewFrame();
      DrawViewerFrame(d, vs, io.DisplaySize);
      ImGui::Render();
      if (i >= 3) ms.push_back(Ms(a, Clock::now())), cpu.push_back(CpuMs() - c);
    }
    std::sort(ms.begin(), ms.end());
    std::sort(cpu.begin(), cpu.end());
    double sum = 0, csum = 0;
    for (double x : ms) sum += x;
    for (double x : cpu) csum += x;
    out[std::string("cpu_frame_") + z.name] = {{"mean_ms", sum / double(ms.size())},
                                                {"p95_ms", ms[ms.size() * 95 / 100]},
                                                {"cpu_mean_ms", csum / double(cpu.size())},
                                                {"cpu_median_ms", cpu[cpu.size() / 2]},
                                                {"blocks", vs.blocks_drawn},
                                                {"vertices", ImGui::GetDrawData()->TotalVtxCount}};
  }
  ImGui::DestroyContext();
#endif
  std::cout << out.dump() << "\n";
  return 0;
}
