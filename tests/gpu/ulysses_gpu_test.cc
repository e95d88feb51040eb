// Ulysses and hybrid on the GPU executor. One GPU: the all-to-all's pack/unpack kernels against their host mapping
// (bit for bit, poisoned outputs), an emulated U-member exchange through the kernels against the layout, and the W = 1
// degenerate schedule against the CPU float64 reference. Several GPUs: Ulysses (U = W) and U × R hybrids, both
// placements and both ring methods, GQA with replicated K/V heads, forward and backward against the reference.
// Every case skips (passes) with the reason when the machine has fewer GPUs than it needs.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/ulysses_layout.h"
#include "kernels/cpu/reference_attention.h"
#include "kernels/cuda/gpu_executor.h"
#include "kernels/cuda/ulysses_pack.h"

namespace ringlab::gpu {
namespace {

constexpr double kOutTol = 1e-2, kGradTol = 2e-2;

std::string NeedGpus(int n) {
  std::string why;
  const int have = VisibleGpuCount(&why);
  if (have >= n) return "";
  return "needs " + std::to_string(n) + " GPU(s), " + std::to_string(have) + " visible" + (why.empty() ? "" : ": " + why);
}

#define SKIP_WITHOUT_GPUS(n)                             \
  if (const std::string why = NeedGpus(n); !why.empty()) \
  GTEST_SKIP() << why

// Device buffer of `bytes`, filled with 0xff (NaN as float32, a NaN bf16 pattern) so an unwritten element shows.
struct DeviceBuffer {
  void* ptr = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    EXPECT_EQ(cudaMalloc(&ptr, bytes), cudaSuccess);
    EXPECT_EQ(cudaMemset(ptr, 0xff, bytes), cudaSuccess);
  }
  ~DeviceBuffer() { cudaFree(ptr); }
};

template <typename T>
std::vector<T> RunGather(const AllToAllShape& s, bool pack, bool to_heads, const std::vector<T>& in, size_t out_elems) {
  DeviceBuffer src(in.size() * sizeof(T)), dst(out_elems * sizeof(T));
  EXPECT_EQ(cudaMemcpy(src.ptr, in.data(), in.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  const Status st = pack ? LaunchAllToAllPack(s, to_heads, src.ptr, dst.ptr, sizeof(T), nullptr)
                         : LaunchAllToAllUnpack(s, to_heads, src.ptr, dst.ptr, sizeof(T), nullptr);
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<T> out(out_elems);
  EXPECT_EQ(cudaMemcpy(out.data(), dst.ptr, out_elems * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return out;
}

template <typename T>
std::vector<T> RandomValues(size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<T> v(n);
  for (T& x : v) {
    if constexpr (sizeof(T) == 2) x = T(rng() & 0x7fff);  // any finite bf16/fp16 bit pattern's low half
    else x = u(rng);
  }
  return v;
}

template <typename T>
void CheckKernelsMatchHost(const AllToAllShape& s, std::mt19937_64& rng) {
  for (bool to_heads : {true, false}) {
    if (!to_heads && sizeof(T) == 2 && s.members > s.all_heads) continue;  // replicas are summed in float32 only
    const auto src = RandomValues<T>(to_heads ? s.SeqElems() : s.HeadElems(), rng);
    EXPECT_EQ(RunGather(s, true, to_heads, src, s.SlotsElems()), PackOnHost(s, to_heads, src)) << "pack " << to_heads;
    const auto slots = RandomValues<T>(s.SlotsElems(), rng);
    const size_t n = to_heads ? s.HeadElems() : s.SeqElems();
    const std::vector<T> got = RunGather(s, false, to_heads, slots, n), want = UnpackOnHost(s, to_heads, slots);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < n; ++i) {  // float sums: the same order on both, so equal to rounding of one add
      if constexpr (sizeof(T) == 4) ASSERT_NEAR(got[i], want[i], 1e-6 * (1 + std::fabs(want[i]))) << i;
      else ASSERT_EQ(got[i], want[i]) << i;
    }
  }
}

TEST(UlyssesPackKernelTest, MatchesTheHostMapping) {
  SKIP_WITHOUT_GPUS(1);
  std::mt19937_64 rng(uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()));
  const AllToAllShape shapes[] = {
      {.members = 4, .halves = 1, .batch = 2, .all_heads = 8, .member_heads = 2, .piece = 48, .inner = 64},   // Q
      {.members = 4, .halves = 2, .batch = 1, .all_heads = 2, .member_heads = 1, .piece = 32, .inner = 128},  // K/V ×2
      {.members = 8, .halves = 2, .batch = 1, .all_heads = 1, .member_heads = 1, .piece = 16, .inner = 64},   // K/V ×8
      {.members = 2, .halves = 1, .batch = 3, .all_heads = 6, .member_heads = 3, .piece = 40, .inner = 1},    // lse
      {.members = 1, .halves = 2, .batch = 1, .all_heads = 4, .member_heads = 4, .piece = 64, .inner = 64}};  // U = 1
  for (const AllToAllShape& s : shapes) {
    CheckKernelsMatchHost<uint16_t>(s, rng);
    CheckKernelsMatchHost<float>(s, rng);
  }
}

// One executor per world size (NCCL setup takes seconds).
GpuExecutor* Executor(int world) {
  static std::map<int, std::unique_ptr<GpuExecutor>> cache;
  auto& ex = cache[world];
  if (!ex) {
    Launch launch{.world = world, .timeout_s = 60};
    for (int i = 0; i < world; ++i) launch.devices.push_back(i);
    const Status st = GpuExecutor::Create(launch, &ex);
    EXPECT_TRUE(st.ok()) << st.message();
  }
  return ex.get();
}

struct Case {
  int world, ulysses, heads, kv_heads;
  Method method = Method::kAllToAll;
  UlyssesPlacement placement = UlyssesPlacement::kConsecutive;
  ShardingKind sharding = ShardingKind::kHeadTail;
  bool causal = true;
};

std::string Name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return "W" + std::to_string(c.world) + "U" + std::to_string(c.ulysses) + "_" + std::string(MethodName(c.method)) +
         "_" + std::string(PlacementName(c.placement)) + "_H" + std::to_string(c.heads) + "kv" +
         std::to_string(c.kv_heads) + (c.causal ? "_causal" : "_full");
}

class UlyssesGpuTest : public ::testing::TestWithParam<Case> {};

// Forward and backward of the schedule against the float64 reference on the same seeded inputs; poisoned buffers;
// one trace event per op of every rank.
TEST_P(UlyssesGpuTest, ForwardAndBackwardMatchFloat64Reference) {
  const Case& c = GetParam();
  SKIP_WITHOUT_GPUS(c.world);
  GpuExecutor* ex = Executor(c.world);
  ASSERT_NE(ex, nullptr);
  const Problem p{.batch = 1, .heads = c.heads, .kv_heads = c.kv_heads, .seq = 512, .head_dim = 64,
                  .dtype = DType::kBFloat16, .causal = c.causal};
  const ScheduleConfig cfg{.problem = p, .world = c.world, .sharding = c.sharding, .method = c.method,
                           .ulysses = c.ulysses, .placement = c.placement};
  ASSERT_TRUE(ValidateConfig(cfg).ok()) << ValidateConfig(cfg).message();
  const uint64_t seed = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
  std::printf("[ seed     ] %llu\n", (unsigned long long)seed);
  const InputSource host = HostRandomInputs(p, seed);
  RunRequest req{.config = cfg, .backward = true, .warmup = 0, .iters = 1, .collect_outputs = true, .poison = true};
  RunResult res;
  // Odd seeds feed the GPU its seeded inputs (the piece's random fill), even ones upload the host copy.
  const Status st = ex->Run(req, seed % 2 ? InputSource{.seed = seed} : host, &res);
  ASSERT_TRUE(st.ok()) << st.message();

  const cpu::AttentionShape shape{.batch = 1, .heads = p.heads, .kv_heads = p.kv_heads, .q_tokens = p.seq,
                                  .kv_tokens = p.seq, .head_dim = p.head_dim};
  auto d = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  const auto q = d(host.q), k = d(host.k), v = d(host.v), dout = d(host.dout);
  std::vector<double> out(shape.QElements()), lse(shape.LseElements()), dq(shape.QElements()), dk(shape.KvElements()),
      dv(shape.KvElements());
  cpu::ReferenceForward(shape, {.causal = p.causal}, q.data(), k.data(), v.data(), out.data(), lse.data());
  cpu::ReferenceBackward(shape, {.causal = p.causal}, q.data(), k.data(), v.data(), out.data(), lse.data(),
                         dout.data(), dq.data(), dk.data(), dv.data());
  const Outputs& o = res.outputs;
  const double e[5] = {RelativeError(o.out, out), RelativeError(o.lse, lse), RelativeError(o.dq, dq),
                       RelativeError(o.dk, dk), RelativeError(o.dv, dv)};
  std::printf("[ errors   ] out %.2e lse %.2e dq %.2e dk %.2e dv %.2e  fwd %.3f ms fwd+bwd %.3f ms\n", e[0], e[1], e[2],
              e[3], e[4], res.fwd_ms, res.fwdbwd_ms);
  EXPECT_LE(e[0], kOutTol);
  EXPECT_LE(e[1], kOutTol);
  for (int i = 2; i < 5; ++i) EXPECT_LE(e[i], kGradTol) << "gradient " << i;
  Schedule fwd, bwd;
  ScheduleConfig bc = cfg;
  bc.pass = Pass::kBackward;
  ASSERT_TRUE(BuildSchedule(cfg, &fwd).ok());
  ASSERT_TRUE(BuildSchedule(bc, &bwd).ok());
  EXPECT_EQ(int64_t(res.fwd_trace.events.size()), fwd.OpCount());
  EXPECT_EQ(int64_t(res.bwd_trace.events.size()), bwd.OpCount());
  int alltoalls = 0;
  for (const TraceEvent& ev : res.bwd_trace.events) {
    EXPECT_GE(ev.dur_us, 0);
    alltoalls += ev.kind == OpKind::kAllToAll;
  }
  EXPECT_EQ(alltoalls, c.ulysses > 1 ? 7 * c.world : 0);  // backward: five in, two out per rank
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, UlyssesGpuTest,
    ::testing::Values(
        Case{1, 1, 4, 2},                                                      // the degenerate W = 1 schedule
        Case{1, 1, 4, 4, Method::kAllToAll, UlyssesPlacement::kConsecutive, ShardingKind::kContiguous, false},
        Case{2, 2, 4, 2},                                                      // pure Ulysses
        Case{4, 4, 4, 2},                                                      // U > Hkv: K/V heads replicated ×2
        Case{4, 2, 4, 2},                                                      // hybrid 2 × 2, ring across
        Case{4, 2, 4, 2, Method::kAllGather},                                  // hybrid, all-gather (split comm)
        Case{4, 2, 4, 4, Method::kAllToAll, UlyssesPlacement::kStrided},
        Case{4, 2, 4, 4, Method::kAllGather, UlyssesPlacement::kStrided, ShardingKind::kContiguous, false},
        Case{8, 4, 8, 2, Method::kAllToAll, UlyssesPlacement::kConsecutive},   // 4 × 2, K/V replicated ×2
        Case{8, 2, 4, 2, Method::kAllGather, UlyssesPlacement::kStrided}),     // 2 × 4
    Name);

}  // namespace
}  // namespace ringlab::gpu
