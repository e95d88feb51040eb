// The microbenchmarks on a GPU: samples come back positive, at plausible rates, and fit into a profile that loads.
#include <gtest/gtest.h>

#include <fstream>

#include "calibrate/fit/profile_fit.h"
#include "calibrate/microbench/microbench.h"
#include "sim/profile.h"

namespace ringlab::calibrate {
namespace {

int GpusOrSkipReason(std::string* why) {
  DeviceFacts f;
  const Status st = QueryDevices(&f);
  if (!st.ok()) {
    *why = st.message();
    return 0;
  }
  return f.visible;
}

TEST(CalibrateGpu, KernelSamplesArePositiveAndBelowPeak) {
  std::string why;
  if (GpusOrSkipReason(&why) < 1) GTEST_SKIP() << "needs a GPU: " << why;
  std::vector<KernelCase> plan = {
      {"forward", "full", 128, 8, 8, 1, 4096, 4096, 0, "test"},
      {"forward", "causal", 128, 8, 8, 1, 4096, 4096, 0, "test"},
      {"backward", "full", 64, 8, 2, 1, 2048, 4096, 0, "test"},
  };
  FitInputs in;
  BenchOptions o;
  o.reps = 3;
  ASSERT_TRUE(BenchKernels(0, plan, o, &in).ok());
  ASSERT_EQ(in.kernels.size(), 3u);
  for (const KernelSample& k : in.kernels) {
    const double flops = 4.0 * k.head_dim * k.pairs * k.heads * (k.pass == "forward" ? 1 : 2.5);
    const double tflops = flops / (k.us * 1e6);
    EXPECT_GT(tflops, 1) << k.pass << " " << k.mask;
    EXPECT_LT(tflops, 2000) << k.pass << " " << k.mask;  // above any current GPU's dense bf16 peak: a timing bug
  }
  // The causal block does half the work of the full one and must not take longer.
  EXPECT_LE(in.kernels[1].us, in.kernels[0].us * 1.05);
  // The backward also timed its preprocess (copy) and the dK/dV add (merge).
  ASSERT_EQ(in.memory.size(), 2u);
  for (const MemorySample& m : in.memory) EXPECT_GT(m.us, 0) << m.kind;
}

TEST(CalibrateGpu, NcclSamplesCoverAloneBesideAndStartWaits) {
  std::string why;
  const int gpus = GpusOrSkipReason(&why);
  if (gpus < 2) GTEST_SKIP() << "needs 2 GPUs, " << gpus << " visible" << (why.empty() ? "" : ": " + why);
  FitInputs in;
  BenchOptions o;
  o.reps = 2;
  ASSERT_TRUE(BenchComm({0, 1}, {int64_t(4) << 20}, o, &in).ok());
  // pair + all-gather, each alone and beside
  ASSERT_EQ(in.transfers.size(), 4u);
  for (const TransferSample& t : in.transfers) {
    EXPECT_GT(t.us, 0);
    EXPECT_LT(double(t.bytes) / t.us / 1e3, 2000) << t.kind;  // GB/s above NVLink 4's 900: a timing bug
  }
  EXPECT_EQ(in.overlap_us.size(), 4u);
  nlohmann::json base;
  std::ifstream(sim::ProfileDir() + "/h100_sxm.json") >> base;
  nlohmann::json profile, report;
  ASSERT_TRUE(FitProfile(in, base, FitOptions{}, &profile, &report).ok());
  sim::HardwareProfile hw;
  EXPECT_TRUE(sim::ParseProfile(profile, "fitted", &hw).ok());
}

}  // namespace
}  // namespace ringlab::calibrate
