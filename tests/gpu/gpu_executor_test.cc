// The GPU executor over the schedule matrix PyTorch's context-parallel tests cover: W = 2 and 4, both methods, both
// shardings (load balancing on/off), causal and not, forward and backward, GQA, plus the unfused-merge/packed-K/V
// variants. Results are compared with the CPU float64 reference by relative error; uninitialised buffers are poisoned
// with NaN before every pass, so an element no op writes fails the check.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <tuple>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "kernels/cpu/reference_attention.h"
#include "kernels/cuda/gpu_executor.h"
#include "kernels/cuda/npy_io.h"

namespace ringlab::gpu {
namespace {

constexpr double kOutTol = 1e-2, kGradTol = 2e-2;

// One executor per world size for the whole binary (NCCL setup takes seconds).
GpuExecutor* Executor(int world, std::string* skip) {
  static std::map<int, std::unique_ptr<GpuExecutor>> cache;
  std::string why;
  const int n = VisibleGpuCount(&why);
  if (n < world) {
    *skip = "needs " + std::to_string(world) + " GPUs, " + std::to_string(n) + " visible" + (why.empty() ? "" : ": " + why);
    return nullptr;
  }
  auto& ex = cache[world];
  if (!ex) {
    Launch launch;
    launch.world = world;
    launch.timeout_s = 60;
    for (int i = 0; i < world; ++i) launch.devices.push_back(i);
    const Status st = GpuExecutor::Create(launch, &ex);
    if (!st.ok()) {
      *skip = "";
      ADD_FAILURE() << st.message();
      return nullptr;
    }
  }
  return ex.get();
}

struct Case {
  int world;
  Method method;
  ShardingKind sharding;
  bool causal;
  int heads, kv_heads, dim;
  bool unfused = false, pack = false;
};

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string s = "W" + std::to_string(c.world) + "_" + std::string(MethodName(c.method)) + "_" +
                  (c.sharding == ShardingKind::kHeadTail ? "headtail" : std::string(ShardingName(c.sharding))) + (c.causal ? "_causal" : "_full") +
                  "_H" + std::to_string(c.heads) + "kv" + std::to_string(c.kv_heads) + "_D" + std::to_string(c.dim);
  if (c.unfused) s += "_unfused";
  if (c.pack) s += "_pack";
  return s;
}

// Creates the executors largest first, before any test, so every GPU's first kernel launch comes from the
// concurrent warm-up (see WarmUpKernels in gpu_executor.cc).
class ExecutorsFirst : public ::testing::Environment {
 public:
  void SetUp() override {
    std::string skip;
    for (int w : {4, 2}) Executor(w, &skip);
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new ExecutorsFirst);

class GpuMatrixTest : public ::testing::TestWithParam<Case> {};

TEST_P(GpuMatrixTest, ForwardAndBackwardMatchFloat64Reference) {
  const Case& c = GetParam();
  std::string skip;
  GpuExecutor* ex = Executor(c.world, &skip);
  if (!ex) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    return;
  }
  const Problem p{.batch = 1, .heads = c.heads, .kv_heads = c.kv_heads, .seq = 512, .head_dim = c.dim,
                  .dtype = DType::kBFloat16, .causal = c.causal};
  const ScheduleConfig cfg{.problem = p, .world = c.world, .sharding = c.sharding, .method = c.method,
                           .variants = {.fused_merge = !c.unfused, .pack_kv = c.pack}};
  const uint64_t seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  std::printf("[ seed     ] %llu\n", (unsigned long long)seed);
  const InputSource host = HostRandomInputs(p, seed);
  RunRequest req{.config = cfg, .backward = true, .warmup = 0, .iters = 1, .collect_outputs = true, .poison = true};
  RunResult res;
  // Half the cases feed the GPU its seeded inputs, half upload the host copy: both paths must agree with the host.
  const bool upload = (c.heads + c.dim + int(c.causal)) % 2 == 0;
  InputSource seeded;
  seeded.seed = seed;
  const Status st = ex->Run(req, upload ? host : seeded, &res);
  ASSERT_TRUE(st.ok()) << st.message();

  const cpu::AttentionShape shape{.batch = 1, .heads = c.heads, .kv_heads = c.kv_heads, .q_tokens = p.seq,
                                  .kv_tokens = p.seq, .head_dim = c.dim};
  auto d = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  const auto q = d(host.q), k = d(host.k), v = d(host.v), dout = d(host.dout);
  std::vector<double> out(shape.QElements()), lse(shape.LseElements()), dq(shape.QElements()),
      dk(shape.KvElements()), dv(shape.KvElements());
  cpu::ReferenceForward(shape, {.causal = c.causal}, q.data(), k.data(), v.data(), out.data(), lse.data());
  cpu::ReferenceBackward(shape, {.causal = c.causal}, q.data(), k.data(), v.data(), out.data(), lse.data(),
                         dout.data(), dq.data(), dk.data(), dv.data());
  const Outputs& o = res.outputs;
  const double e_out = RelativeError(o.out, out), e_lse = RelativeError(o.lse, lse), e_dq = RelativeError(o.dq, dq),
               e_dk = RelativeError(o.dk, dk), e_dv = RelativeError(o.dv, dv);
  std::printf("[ errors   ] out %.2e lse %.2e dq %.2e dk %.2e dv %.2e  fwd %.3f ms fwd+bwd %.3f ms\n", e_out, e_lse,
              e_dq, e_dk, e_dv, res.fwd_ms, res.fwdbwd_ms);
  EXPECT_LE(e_out, kOutTol);
  EXPECT_LE(e_lse, kOutTol);
  EXPECT_LE(e_dq, kGradTol);
  EXPECT_LE(e_dk, kGradTol);
  EXPECT_LE(e_dv, kGradTol);
  // The timeline: one event per op of every rank, ids as in the schedule, ends after starts.
  Schedule fwd;
  ScheduleConfig fc = cfg;
  ASSERT_TRUE(BuildSchedule(fc, &fwd).ok());
  EXPECT_EQ(int64_t(res.fwd_trace.events.size()), fwd.OpCount());
  EXPECT_EQ(res.fwd_trace.meta.source, "real");
  for (const TraceEvent& e : res.fwd_trace.events) {
    EXPECT_GE(e.dur_us, 0);
    EXPECT_GE(e.ts_us, 0);
  }
}

std::vector<Case> Matrix() {
  std::vector<Case> cases;
  for (int w : {4, 2})
    for (Method m : {Method::kAllGather, Method::kAllToAll})
      for (ShardingKind s : kShardingKinds)
        for (bool causal : {true, false}) {
          if (s == ShardingKind::kHeadTail && !causal) continue;  // head-tail is causal load balancing only
          for (auto [h, hkv, d] : {std::tuple{4, 4, 64}, {4, 2, 128}})  // MHA, and GQA with two query heads per kv head
            cases.push_back(Case{w, m, s, causal, h, hkv, d});
        }
  for (int w : {2, 4})
    for (Method m : {Method::kAllGather, Method::kAllToAll})
      cases.push_back(Case{w, m, ShardingKind::kHeadTail, true, 4, 2, 64, /*unfused=*/true, /*pack=*/true});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Matrix, GpuMatrixTest, ::testing::ValuesIn(Matrix()), Name);

TEST(GpuExecutorTest, SingleGpuScheduleMatchesMultiGpu) {
  std::string skip;
  GpuExecutor* ex = Executor(2, &skip);
  if (!ex) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    return;
  }
  const Problem p{.batch = 2, .heads = 8, .kv_heads = 2, .seq = 1024, .head_dim = 128, .causal = true};
  const ScheduleConfig cfg{.problem = p, .world = 2, .sharding = ShardingKind::kHeadTail, .method = Method::kAllToAll};
  RunRequest req{.config = cfg, .backward = true, .warmup = 1, .iters = 2, .collect_outputs = true};
  RunResult multi, single;
  ASSERT_TRUE(ex->Run(req, InputSource{.seed = 7}, &multi).ok());
  ASSERT_TRUE(ex->RunSingle(req, InputSource{.seed = 7}, &single).ok());
  EXPECT_LE(RelativeError(multi.outputs.out, single.outputs.out), kOutTol);
  EXPECT_LE(RelativeError(multi.outputs.dq, single.outputs.dq), kGradTol);
  EXPECT_LE(RelativeError(multi.outputs.dk, single.outputs.dk), kGradTol);
  EXPECT_LE(RelativeError(multi.outputs.dv, single.outputs.dv), kGradTol);
}

// Every timed iteration is traced; the reported trace is the median one, and warmup_ms adds warm-up iterations that
// every rank agrees on (a tiny problem runs far under a millisecond per iteration).
TEST(GpuExecutorTest, TracesEveryTimedIterationAndWarmsUpForTheAskedTime) {
  std::string skip;
  GpuExecutor* ex = Executor(2, &skip);
  if (!ex) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    return;
  }
  const Problem p{.batch = 1, .heads = 4, .kv_heads = 2, .seq = 2048, .head_dim = 64, .causal = true};
  const ScheduleConfig cfg{.problem = p, .world = 2, .sharding = ShardingKind::kHeadTail, .method = Method::kAllToAll};
  ScheduleConfig fc = cfg;
  fc.pass = Pass::kForward;
  Schedule fwd;
  ASSERT_TRUE(BuildSchedule(fc, &fwd).ok());
  RunRequest req{.config = cfg, .backward = true, .warmup = 1, .iters = 5, .warmup_ms = 30};
  RunResult res;
  ASSERT_TRUE(ex->Run(req, InputSource{.seed = 3}, &res).ok());
  ASSERT_EQ(res.fwd_iterations.size(), 5u);
  ASSERT_EQ(res.bwd_iterations.size(), 5u);
  ASSERT_EQ(res.fwd_iteration_ms.size(), 5u);
  ASSERT_EQ(res.fwdbwd_iteration_ms.size(), 5u);
  ASSERT_GE(res.fwd_traced, 0);
  ASSERT_LT(res.fwd_traced, 5);
  ASSERT_GE(res.bwd_traced, 0);
  EXPECT_GT(res.warmup_done[0], 1) << "30 ms of warm-up needs more than one sub-millisecond iteration";
  EXPECT_GT(res.warmup_done[1], 1);
  // The reported time is the slowest rank's median; the traced iteration is the one whose slowest rank is the median.
  std::vector<double> sorted = res.fwd_iteration_ms;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_DOUBLE_EQ(res.fwd_iteration_ms[res.fwd_traced], sorted[2]);
  for (const Trace& t : res.fwd_iterations) {
    ASSERT_EQ(int64_t(t.events.size()), fwd.OpCount());
    for (const TraceEvent& e : t.events) {
      EXPECT_GE(e.ts_us, 0);
      EXPECT_GE(e.dur_us, 0);
    }
  }
  ASSERT_EQ(res.fwd_trace.events.size(), res.fwd_iterations[res.fwd_traced].events.size());
  for (size_t i = 0; i < res.fwd_trace.events.size(); ++i)
    EXPECT_EQ(res.fwd_trace.events[i].ts_us, res.fwd_iterations[res.fwd_traced].events[i].ts_us);
}

TEST(GpuExecutorTest, ShapeOverFreeMemoryIsAClearError) {
  std::string skip;
  GpuExecutor* ex = Executor(2, &skip);
  if (!ex) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    return;
  }
  const Problem p{.batch = 8, .heads = 64, .kv_heads = 64, .seq = 1 << 22, .head_dim = 128, .causal = true};
  const ScheduleConfig cfg{.problem = p, .world = 2, .sharding = ShardingKind::kHeadTail, .method = Method::kAllGather};
  RunResult res;
  const Status st = ex->Run(RunRequest{.config = cfg, .backward = true}, InputSource{}, &res);
  ASSERT_FALSE(st.ok());
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_NE(st.message().find("estimated"), std::string::npos) << st.message();
  // The executor stays usable after a rejected shape.
  const Problem small{.batch = 1, .heads = 4, .kv_heads = 4, .seq = 256, .head_dim = 64};
  EXPECT_TRUE(ex->Run(RunRequest{.config = {.problem = small, .world = 2}, .iters = 1}, InputSource{}, &res).ok());
}

TEST(NpyTest, RoundTripAndErrors) {
  const std::string path = ::testing::TempDir() + "/ringlab_npy_test.npy";
  const std::vector<float> x{1.5f, -2.f, 0.25f, 3.f, 4.f, 5.f};
  ASSERT_TRUE(WriteNpy(path, {1, 2, 3}, x).ok());
  std::vector<float> y;
  ASSERT_TRUE(ReadNpy(path, {1, 2, 3}, &y).ok());
  EXPECT_EQ(x, y);
  const Status wrong = ReadNpy(path, {1, 3, 2}, &y);
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("shape (1, 2, 3)"), std::string::npos) << wrong.message();
  {
    std::ofstream f(path, std::ios::binary);
    f << "not numpy";
  }
  EXPECT_NE(ReadNpy(path, {1}, &y).message().find("bad magic"), std::string::npos);
  EXPECT_NE(ReadNpy("/nonexistent/x.npy", {1}, &y).message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace ringlab::gpu
