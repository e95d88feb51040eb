// `ringlab-view --bench-frames N`: times N frames at each of several zoom levels (zoomed out, zoomed out while
// wheel-zooming, zoomed in, mid) in the open window and prints one JSON line: wall, CPU, draw-list build and swap
// times, blocks drawn, vertices, draw calls and overdraw per zoom level, with the load time and the GL renderer.
#pragma once

#include "viz/app/options.h"
#include "viz/views/view_state.h"

struct GLFWwindow;

namespace ringlab::viz {

// What loading took, reported beside the frame times.
struct LoadTimes {
  double wall_ms = 0, cpu_ms = 0;
};

void RunFrameBench(GLFWwindow* win, ViewerData& d, ViewState& vs, const ViewOptions& opt, LoadTimes load);

}  // namespace ringlab::viz
