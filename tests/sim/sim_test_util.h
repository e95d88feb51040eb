// Helpers for simulator tests: a synthetic profile whose numbers make closed-form answers easy.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include "core/schedule.h"
#include "sim/profile.h"
#include "sim/simulate.h"

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

// Runs `cfg` with `fast` and on the general engine (every rank compiled whole and simulated) and expects both to
// agree bit for bit: the summary as JSON text, the op/event/flow counts, the compute and transfer extrapolation
// tallies. Returns the fast run's result (which path it took).
// `event_slack`: how far the stale-event count may differ (the rank-range run under a window or documents, sim/README.md
// "Large W", known difference); 0 elsewhere.
inline SimResult ExpectSameAsGeneralEngine(const ScheduleConfig& cfg, const HardwareProfile& hw, SimOptions fast,
                                           int64_t event_slack = 0) {
  SimOptions general = fast;
  general.share_probe_above = 0;
  general.use_symmetry = false;
  SimResult a, b;
  const Status sa = Simulate(cfg, hw, fast, &a), sb = Simulate(cfg, hw, general, &b);
  EXPECT_TRUE(sa.ok()) << sa.message();
  EXPECT_TRUE(sb.ok()) << sb.message();
  EXPECT_EQ(b.phased_period, 0);
  EXPECT_EQ(b.range_period, 0);
  EXPECT_EQ(ToJson(a.summary).dump(), ToJson(b.summary).dump());
  EXPECT_EQ(a.stats.ops, b.stats.ops);
  EXPECT_LE(std::abs(a.stats.events - b.stats.events), event_slack) << a.stats.events << " vs " << b.stats.events;
  EXPECT_EQ(a.stats.flows, b.stats.flows);
  EXPECT_EQ(ExtrapolationJson(a.extrapolation).dump(), ExtrapolationJson(b.extrapolation).dump());
  EXPECT_EQ(TransferExtrapolationJson(a.transfers).dump(), TransferExtrapolationJson(b.transfers).dump());
  if (fast.trace != TraceMode::kNone) {
    // The traces as written (the writer orders events by rank, track and time): equal byte for byte.
    std::ostringstream ta, tb;
    WriteTraceJson(a.trace, ta);
    WriteTraceJson(b.trace, tb);
    EXPECT_EQ(a.trace.events.size(), b.trace.events.size());
    EXPECT_TRUE(ta.str() == tb.str()) << "the traces differ";
  }
  return a;
}

}  // namespace ringlab::sim::testing
