// Faults end every rank with a clear message in bounded time: a rank that fails, a rank that stops (hang), fewer GPUs
// than asked. Fault injection: RINGLAB_FAULT="RANK:OP:KIND" (error | hang | exit) makes a rank fail before that op.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>

#include "kernels/cuda/gpu_executor.h"

namespace ringlab::gpu {
namespace {

using Clock = std::chrono::steady_clock;

Launch TwoGpus(double timeout_s) {
  Launch l;
  l.world = 2;
  l.devices = {0, 1};
  l.timeout_s = timeout_s;
  return l;
}

RunRequest SmallRequest() {
  const Problem p{.batch = 1, .heads = 4, .kv_heads = 4, .seq = 1024, .head_dim = 64, .causal = true};
  return RunRequest{.config = {.problem = p, .world = 2, .method = Method::kAllToAll}, .backward = true,
                    .warmup = 0, .iters = 2};
}

TEST(GpuFaultTest, FewerGpusThanAskedIsAClearError) {
  Launch l;
  l.world = 64;
  for (int i = 0; i < 64; ++i) l.devices.push_back(i);
  std::unique_ptr<GpuExecutor> ex;
  const Status st = GpuExecutor::Create(l, &ex);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("needs 64 GPUs"), std::string::npos) << st.message();
}

class GpuFaultRun : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (VisibleGpuCount(&why) < 2) GTEST_SKIP() << "needs 2 GPUs";
  }
  void TearDown() override { unsetenv("RINGLAB_FAULT"); }
};

TEST_F(GpuFaultRun, FailingRankAbortsEveryRankQuickly) {
  std::unique_ptr<GpuExecutor> ex;
  ASSERT_TRUE(GpuExecutor::Create(TwoGpus(30), &ex).ok());
  setenv("RINGLAB_FAULT", "1:1:error", 1);
  const auto t0 = Clock::now();
  RunResult res;
  const Status st = ex->Run(SmallRequest(), InputSource{}, &res);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rank 1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("injected fault"), std::string::npos) << st.message();
  EXPECT_LT(s, 20.0);
  std::printf("[ fault    ] %s (after %.2f s)\n", st.message().c_str(), s);
  // Unusable afterwards, and says so.
  EXPECT_FALSE(ex->Run(SmallRequest(), InputSource{}, &res).ok());
}

TEST_F(GpuFaultRun, StoppedRankTimesOutEveryRank) {
  std::unique_ptr<GpuExecutor> ex;
  ASSERT_TRUE(GpuExecutor::Create(TwoGpus(4), &ex).ok());
  setenv("RINGLAB_FAULT", "0:2:hang", 1);
  const auto t0 = Clock::now();
  RunResult res;
  const Status st = ex->Run(SmallRequest(), InputSource{}, &res);
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no progress for 4 s"), std::string::npos) << st.message();
  EXPECT_LT(s, 15.0);
  std::printf("[ fault    ] %s (after %.2f s)\n", st.message().c_str(), s);
}

}  // namespace
}  // namespace ringlab::gpu
