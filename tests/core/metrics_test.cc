#include "core/metrics.h"

#include <gtest/gtest.h>

namespace ringlab {
namespace {

TraceEvent Ev(int rank, int stream, double ts, double dur, double flops = 0) {
  return TraceEvent{.rank = rank, .stream = stream, .kind = stream ? OpKind::kSend : OpKind::kAttend, .ts_us = ts,
                    .dur_us = dur, .flops = flops};
}

// Rank 0: compute [0,10) and [12,20); comm [5,15). Rank 1: compute [0,20), no comm.
TEST(Metrics, HandComputedIntervals) {
  Trace t;
  t.meta.config.world = 2;
  t.events = {Ev(0, 0, 0, 10, 1e6), Ev(0, 0, 12, 8, 1e6), Ev(0, 1, 5, 10), Ev(1, 0, 0, 20, 2e6)};
  RunSummary s = Summarize(t, /*peak_tflops=*/1.0);
  EXPECT_DOUBLE_EQ(s.step_time_us, 20);
  EXPECT_DOUBLE_EQ(s.ranks[0].compute_us, 18);
  EXPECT_DOUBLE_EQ(s.ranks[0].comm_us, 10);
  EXPECT_DOUBLE_EQ(s.ranks[0].both_us, 8);   // [5,10) and [12,15)
  EXPECT_DOUBLE_EQ(s.ranks[0].idle_us, 0);   // [10,12) is covered by comm
  EXPECT_DOUBLE_EQ(s.ranks[1].compute_us, 20);
  EXPECT_DOUBLE_EQ(s.max_compute_us, 20);
  EXPECT_DOUBLE_EQ(s.exposed_comm_us, 0);
  EXPECT_DOUBLE_EQ(s.overlap_fraction, 0.8);
  EXPECT_DOUBLE_EQ(s.load_imbalance, 20 / 19.0);
  EXPECT_DOUBLE_EQ(s.total_flops, 4e6);
  EXPECT_DOUBLE_EQ(s.tflops_per_gpu, 4e6 / 20e-6 / 2 / 1e12);
  EXPECT_DOUBLE_EQ(s.mfu, s.tflops_per_gpu);
}

TEST(Metrics, PeakMemoryIsTheLargestBufferTable) {
  Schedule s;
  ASSERT_TRUE(BuildSchedule(ScheduleConfig{.problem = Problem{.seq = 1024}, .world = 4}, &s).ok());
  const Problem& p = s.config.problem;
  // q + kv + 2 ring slots + fp32 out + fp32 lse, for 256 tokens per rank.
  const int64_t want = p.QBytes(256) + 3 * p.KvBytes(256) + int64_t(p.heads) * 256 * p.head_dim * 4 + p.heads * 256 * 4;
  EXPECT_EQ(PeakMemoryBytes(s), want);
}

}  // namespace
}  // namespace ringlab
