// Helpers for simulator tests: a synthetic profile whose numbers make closed-form answers easy.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/schedule.h"
#include "sim/profile.h"

namespace ringlab::sim::testing {

// Attention at a constant `tflops` for every block (forward and backward, causal and full, head dim 128), no launch
// overhead, no slowdown, NVLink `nvl_gbps` with `nvl_latency_us`, NIC `nic_gbps` with `nic_latency_us`.
inline HardwareProfile FlatProfile(double tflops, double nvl_gbps, double nvl_latency_us = 0, double nic_gbps = 50,
                                   double nic_latency_us = 0) {
  HardwareProfile hw;
  hw.name = "flat";
  hw.peak_tflops = 1000;
  hw.launch_us = 0;
  hw.comm_slowdown = 0;
  for (const char* pass : {"forward", "backward"})
    for (const char* mask : {"causal", "full"})
      hw.attention.push_back(AttentionTable{pass, mask, 128, {{1, tflops}}, "test"});
  hw.copy_gbps = hw.merge_gbps = 1000;
  hw.nvlink_gbps = nvl_gbps;
  hw.nvlink_latency_us = nvl_latency_us;
  hw.nic_gbps = nic_gbps;
  hw.nic_latency_us = nic_latency_us;
  hw.collective_step_latency_us = 0;
  hw.gpus_per_node = 8;
  return hw;
}

// A named profile (sim/profiles), failing the test when it does not load.
inline HardwareProfile LoadNamed(const std::string& name) {
  HardwareProfile hw;
  EXPECT_TRUE(LoadProfile(name, &hw).ok()) << name;
  return hw;
}

inline ScheduleConfig RingConfig(int world, int64_t seq, Method m = Method::kAllToAll, Pass pass = Pass::kForward) {
  ScheduleConfig c;
  c.problem = Problem{.batch = 1, .heads = 32, .kv_heads = 8, .seq = seq, .head_dim = 128};
  c.world = world;
  c.method = m;
  c.pass = pass;
  return c;
}

}  // namespace ringlab::sim::testing
