// Clocks the viewer app and its benchmarks report with: wall time and the process's CPU time, in milliseconds.
#pragma once

#include <chrono>
#include <ctime>

namespace ringlab::viz {

using Clock = std::chrono::steady_clock;
inline double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
// CPU time of the whole process (all threads, llvmpipe's rasteriser threads included), milliseconds. On a shared,
// loaded machine this is the honest cost of a frame; wall time also counts waiting for a core.
inline double CpuMs() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

}  // namespace ringlab::viz
