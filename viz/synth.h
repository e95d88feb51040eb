// Synthetic traces for tests, benchmarks and demos: times a schedule's ops with a toy cost model (FLOPs over a
// fixed throughput, bytes over a fixed bandwidth plus latency, rendezvous send/recv, collectives wait for all ranks).
// Not the simulator (sim/ is); only a source of plausible timelines for the viewer. No ImGui.
//
//   Trace t;
//   Status s = SynthTrace({.problem = DefaultProblem(), .world = 8}, {}, &t);
//   WriteTraceJson(t, "demo.json");
#pragma once

#include <cstdint>
#include <string>

#include "core/trace.h"

namespace ringlab::viz {

struct SynthOptions {
  double tflops = 400;        // attention throughput
  double link_gbps = 100;     // per-message bandwidth, GB/s
  double latency_us = 15;
  double mem_gbps = 2000;     // merge/copy/prepare
  double launch_us = 3;
  double jitter = 0;          // relative, uniform in ±jitter, seeded
  uint64_t seed = 1;
  std::string source = "sim";
  std::string hardware = "toy";
};

Status SynthTrace(const ScheduleConfig& cfg, const SynthOptions& opt, Trace* out);

// `copies` back-to-back repetitions of `base` (op ids offset per copy so they stay unique): a long run for benchmarks.
Trace RepeatTrace(const Trace& base, int copies);

}  // namespace ringlab::viz
