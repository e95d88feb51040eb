// GPU attention kernels against the float64 CPU reference, by relative error ||x - ref|| / ||ref||.
//
// Every run draws fresh random inputs (seeded from std::random_device, seed printed), poisons every output with NaN
// before the kernels run and checks that every element was written. Skips cleanly when no GPU is present.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/mask.h"
#include "kernels/cpu/reference_attention.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"

namespace ringlab::cuda {
namespace {

constexpr double kOutTol = 1e-2;   // bf16 / fp16 operands, float32 accumulation
constexpr double kGradTol = 2e-2;

bool HaveGpu(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    *why = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err);
    return false;
  }
  if (n == 0) {
    *why = "no CUDA device present";
    return false;
  }
  return true;
}

class AttentionKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!HaveGpu(&why)) GTEST_SKIP() << "needs a CUDA GPU: " << why;
    seed_ = std::random_device{}();
    rng_.seed(seed_);
    std::printf("[ seed     ] %u\n", seed_);
  }

  unsigned seed_ = 0;
  std::mt19937_64 rng_;
};

bool DeviceIsCc90() {
  int device = 0, major = 0, minor = 0;
  RINGLAB_CUDA_CHECK(cudaGetDevice(&device));
  RINGLAB_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  RINGLAB_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return major == 9 && minor == 0;
}

// The backward tests run once per kernel: "mma" (LaunchBackwardMma, any GPU) and "wgmma" (LaunchBackwardWgmma, compute
// capability 9.0 only: skipped elsewhere). LaunchBackward picks one of them at run time.
class BackwardKernelTest : public AttentionKernelTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    AttentionKernelTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() == "wgmma" && !DeviceIsCc90()) GTEST_SKIP() << "the wgmma kernel needs compute capability 9.0";
  }
  Status Launch(const BackwardParams& p) {
    return GetParam() == "wgmma" ? LaunchBackwardWgmma(p, nullptr) : LaunchBackwardMma(p, nullptr);
  }
  const char* Tag() const { return GetParam().c_str(); }
};

// The forward tests run once per kernel: "wgmma" (LaunchForwardWgmma, Hopper only: skipped on other GPUs) and "mma"
// (LaunchForwardMma, any GPU). LaunchForward picks one of them at run time.
class ForwardKernelTest : public AttentionKernelTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    AttentionKernelTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() == "wgmma" && !DeviceIsCc90()) GTEST_SKIP() << "the wgmma kernel needs compute capability 9.0";
  }
  Status Launch(const ForwardParams& p) {
    return GetParam() == "wgmma" ? LaunchForwardWgmma(p, nullptr) : LaunchForwardMma(p, nullptr);
  }
};

// A device buffer of T with host mirror helpers.
template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { RINGLAB_CUDA_CHECK(cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void Upload(const std::vector<T>& h) { RINGLAB_CUDA_CHECK(cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> Download() const {
    std::vector<T> h(n);
    RINGLAB_CUDA_CHECK(cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  void Poison() { RINGLAB_CUDA_CHECK(cudaMemset(ptr, 0xFF, n * sizeof(T))); }  // all-ones bits: NaN as float
  void Zero() { RINGLAB_CUDA_CHECK(cudaMemset(ptr, 0, n * sizeof(T))); }
};

// Random values rounded to the element type: the 16-bit words for the GPU and their exact values for the reference.
struct Operand {
  std::vector<uint16_t> bits;
  std::vector<double> values;
};

Operand RandomOperand(size_t n, ElementType et, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<float> dist(0.f, 1.f);
  Operand op;
  op.bits.resize(n);
  op.values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float x = dist(rng) * static_cast<float>(scale);
    if (et == ElementType::kBFloat16) {
      const __nv_bfloat16 b = __float2bfloat16_rn(x);
      op.bits[i] = *reinterpret_cast<const uint16_t*>(&b);
      op.values[i] = __bfloat162float(b);
    } else {
      const __half hv = __float2half_rn(x);
      op.bits[i] = *reinterpret_cast<const uint16_t*>(&hv);
      op.values[i] = __half2float(hv);
    }
  }
  return op;
}

// ||x - ref|| / ||ref|| over the entries where ref is finite; counts NaN in x and mismatched infinities as failures.
struct Compare {
  double rel = 0.0;
  int64_t not_written = 0;  // NaN (poison survived) or an infinity where the reference is finite, or vice versa
};

Compare RelError(const std::vector<float>& x, const std::vector<double>& ref) {
  Compare c;
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      ++c.not_written;
      continue;
    }
    if (!std::isfinite(ref[i]) || !std::isfinite(x[i])) {
      if (static_cast<double>(x[i]) != ref[i]) ++c.not_written;
      continue;
    }
    const double d = x[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  c.rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return c;
}

struct Case {
  const char* name;
  int batch, heads, kv_heads;
  int64_t q_tokens, kv_tokens;
  int head_dim;
  bool causal;
  int64_t offset;
  ElementType element;
};

std::string Describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: B=%d H=%d KVH=%d Sq=%lld Skv=%lld D=%d %s off=%lld %s", c.name, c.batch, c.heads,
                c.kv_heads, static_cast<long long>(c.q_tokens), static_cast<long long>(c.kv_tokens), c.head_dim,
                c.causal ? "causal" : "full", static_cast<long long>(c.offset),
                c.element == ElementType::kBFloat16 ? "bf16" : "fp16");
  return buf;
}

// RINGLAB_CUDA_TEST_SMALL=1 (for compute-sanitizer runs) keeps two small cases.
const std::vector<Case>& Cases() {
  static const std::vector<Case> small = {
      {"small_causal_ragged", 1, 2, 1, 70, 150, 64, true, 30, ElementType::kBFloat16},
      {"small_d128", 1, 1, 1, 130, 65, 128, true, -10, ElementType::kFloat16},
  };
  if (std::getenv("RINGLAB_CUDA_TEST_SMALL")) return small;
  static const std::vector<Case> cases = {
      {"square", 1, 2, 2, 256, 256, 128, false, 0, ElementType::kBFloat16},
      {"square_causal", 2, 2, 2, 256, 256, 128, true, 0, ElementType::kBFloat16},
      {"ragged_causal_pos", 1, 2, 1, 200, 333, 128, true, 50, ElementType::kBFloat16},
      {"ragged_causal_neg", 1, 2, 2, 300, 100, 128, true, -40, ElementType::kBFloat16},
      {"causal_far_neg", 1, 1, 1, 130, 190, 64, true, -100, ElementType::kBFloat16},
      {"one_token", 1, 2, 2, 1, 1, 128, false, 0, ElementType::kBFloat16},
      {"one_query_many_keys", 1, 2, 2, 1, 77, 64, true, 40, ElementType::kBFloat16},
      {"gqa_8to1", 1, 8, 1, 150, 150, 128, true, 0, ElementType::kBFloat16},
      {"d64_fp16", 1, 4, 2, 190, 257, 64, false, 0, ElementType::kFloat16},
      {"d128_fp16_causal", 1, 2, 2, 129, 129, 128, true, 0, ElementType::kFloat16},
      {"multi_tile_gqa_causal", 1, 4, 2, 520, 700, 128, true, 180, ElementType::kBFloat16},
      {"multi_tile_d64_full", 2, 2, 1, 333, 515, 64, false, 0, ElementType::kFloat16},
      {"long_causal_d128", 1, 2, 2, 1000, 1100, 128, true, 100, ElementType::kBFloat16},
      {"long_full_d64_gqa", 1, 4, 1, 700, 1300, 64, false, 0, ElementType::kBFloat16},
  };
  return cases;
}

struct Inputs {
  cpu::AttentionShape shape;
  cpu::MaskSpec mask;
  Operand q, k, v, dout;
};

Inputs MakeInputs(const Case& c, std::mt19937_64& rng) {
  Inputs in;
  in.shape = cpu::AttentionShape{.batch = c.batch, .heads = c.heads, .kv_heads = c.kv_heads, .q_tokens = c.q_tokens,
                                 .kv_tokens = c.kv_tokens, .head_dim = c.head_dim};
  in.mask = cpu::MaskSpec{.causal = c.causal, .diagonal_offset = c.offset};
  in.q = RandomOperand(in.shape.QElements(), c.element, rng);
  in.k = RandomOperand(in.shape.KvElements(), c.element, rng);
  in.v = RandomOperand(in.shape.KvElements(), c.element, rng);
  in.dout = RandomOperand(in.shape.QElements(), c.element, rng);
  return in;
}

TensorStrides Contig(int heads, int64_t tokens, int dim) { return {heads * tokens * dim, tokens * dim}; }
TensorStrides ContigLse(int heads, int64_t tokens) { return {heads * tokens, tokens}; }

BlockShape ToBlockShape(const Case& c) {
  BlockShape s;
  s.batch = c.batch;
  s.heads = c.heads;
  s.kv_heads = c.kv_heads;
  s.q_tokens = c.q_tokens;
  s.kv_tokens = c.kv_tokens;
  s.head_dim = c.head_dim;
  s.causal = c.causal;
  s.diagonal_offset = c.offset;
  s.element = c.element;
  return s;
}

void ExpectOk(const Status& st) { ASSERT_TRUE(st.ok()) << "launcher returned an error: " << st.message(); }

TEST_P(ForwardKernelTest, ForwardOverwriteMatchesReference) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(Describe(c));
    const Inputs in = MakeInputs(c, rng_);
    std::vector<double> ref_out(in.shape.QElements()), ref_lse(in.shape.LseElements());
    cpu::ReferenceForward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(),
                          ref_out.data(), ref_lse.data());

    DeviceBuffer<uint16_t> q(in.q.bits.size()), k(in.k.bits.size()), v(in.v.bits.size());
    q.Upload(in.q.bits);
    k.Upload(in.k.bits);
    v.Upload(in.v.bits);
    DeviceBuffer<float> out(ref_out.size()), lse(ref_lse.size());
    out.Poison();
    lse.Poison();

    ForwardParams p;
    p.shape = ToBlockShape(c);
    p.q = q.ptr;
    p.k = k.ptr;
    p.v = v.ptr;
    p.q_strides = p.out_strides = Contig(c.heads, c.q_tokens, c.head_dim);
    p.k_strides = p.v_strides = Contig(c.kv_heads, c.kv_tokens, c.head_dim);
    p.out_acc = out.ptr;
    p.lse_acc = lse.ptr;
    p.lse_strides = ContigLse(c.heads, c.q_tokens);
    p.mode = AccumulateMode::kOverwrite;
    ExpectOk(Launch(p));
    RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());

    const Compare eo = RelError(out.Download(), ref_out);
    const Compare el = RelError(lse.Download(), ref_lse);
    std::printf("[ forward  ] %s %-70s out rel %.3e  lse rel %.3e\n", GetParam().c_str(), Describe(c).c_str(), eo.rel, el.rel);
    EXPECT_EQ(eo.not_written, 0);
    EXPECT_EQ(el.not_written, 0);
    EXPECT_LT(eo.rel, kOutTol);
    EXPECT_LT(el.rel, kOutTol);
  }
}

// Merge mode: the kv block split in two at `split`, the first overwrite and the second merged, equals one full block.
TEST_P(ForwardKernelTest, ForwardMergeOfTwoBlocksEqualsOneBlock) {
  for (const Case& c : Cases()) {
    if (c.kv_tokens < 2) continue;
    SCOPED_TRACE(Describe(c));
    const Inputs in = MakeInputs(c, rng_);
    std::vector<double> ref_out(in.shape.QElements()), ref_lse(in.shape.LseElements());
    cpu::ReferenceForward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(),
                          ref_out.data(), ref_lse.data());

    DeviceBuffer<uint16_t> q(in.q.bits.size()), k(in.k.bits.size()), v(in.v.bits.size());
    q.Upload(in.q.bits);
    k.Upload(in.k.bits);
    v.Upload(in.v.bits);
    DeviceBuffer<float> out(ref_out.size()), lse(ref_lse.size());
    out.Poison();
    lse.Poison();

    const int64_t split = std::uniform_int_distribution<int64_t>(1, c.kv_tokens - 1)(rng_);
    // Second block first (overwrite), then the first block merged in: order must not matter.
    const int64_t begins[2] = {split, 0};
    const int64_t ends[2] = {c.kv_tokens, split};
    for (int part = 0; part < 2; ++part) {
      ForwardParams p;
      p.shape = ToBlockShape(c);
      p.shape.kv_tokens = ends[part] - begins[part];
      p.shape.diagonal_offset = c.offset - begins[part];
      const auto* kb = static_cast<const uint16_t*>(k.ptr) + begins[part] * c.head_dim;
      const auto* vb = static_cast<const uint16_t*>(v.ptr) + begins[part] * c.head_dim;
      p.q = q.ptr;
      p.k = kb;
      p.v = vb;
      p.q_strides = p.out_strides = Contig(c.heads, c.q_tokens, c.head_dim);
      p.k_strides = p.v_strides = Contig(c.kv_heads, c.kv_tokens, c.head_dim);  // a token range of the full buffer
      p.out_acc = out.ptr;
      p.lse_acc = lse.ptr;
      p.lse_strides = ContigLse(c.heads, c.q_tokens);
      p.mode = part == 0 ? AccumulateMode::kOverwrite : AccumulateMode::kMerge;
      ExpectOk(Launch(p));
    }
    RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
    const Compare eo = RelError(out.Download(), ref_out);
    const Compare el = RelError(lse.Download(), ref_lse);
    std::printf("[ merge    ] %s %-70s split %lld out rel %.3e  lse rel %.3e\n", GetParam().c_str(), Describe(c).c_str(),
                static_cast<long long>(split), eo.rel, el.rel);
    EXPECT_EQ(eo.not_written, 0);
    EXPECT_EQ(el.not_written, 0);
    EXPECT_LT(eo.rel, kOutTol);
    EXPECT_LT(el.rel, kOutTol);
  }
}

// Backward over the kv block split in two parts (dq accumulates over both, dk/dv written per part), after the
// forward and the delta preprocess on the GPU.
TEST_P(BackwardKernelTest, BackwardMatchesReference) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(Describe(c));
    const Inputs in = MakeInputs(c, rng_);
    std::vector<double> ref_out(in.shape.QElements()), ref_lse(in.shape.LseElements());
    cpu::ReferenceForward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(),
                          ref_out.data(), ref_lse.data());
    std::vector<double> ref_dq(in.shape.QElements()), ref_dk(in.shape.KvElements()), ref_dv(in.shape.KvElements());
    cpu::ReferenceBackward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(),
                           ref_out.data(), ref_lse.data(), in.dout.values.data(), ref_dq.data(), ref_dk.data(),
                           ref_dv.data());

    DeviceBuffer<uint16_t> q(in.q.bits.size()), k(in.k.bits.size()), v(in.v.bits.size()), dout(in.dout.bits.size());
    q.Upload(in.q.bits);
    k.Upload(in.k.bits);
    v.Upload(in.v.bits);
    dout.Upload(in.dout.bits);
    DeviceBuffer<float> out(ref_out.size()), lse(ref_lse.size()), delta(ref_lse.size());
    DeviceBuffer<float> dq(ref_dq.size()), dk(ref_dk.size()), dv(ref_dv.size());
    out.Poison();
    lse.Poison();
    delta.Poison();
    dq.Zero();  // accumulated
    dk.Poison();
    dv.Poison();

    const TensorStrides qst = Contig(c.heads, c.q_tokens, c.head_dim);
    const TensorStrides kst = Contig(c.kv_heads, c.kv_tokens, c.head_dim);
    const TensorStrides lst = ContigLse(c.heads, c.q_tokens);
    ForwardParams fp;
    fp.shape = ToBlockShape(c);
    fp.q = q.ptr;
    fp.k = k.ptr;
    fp.v = v.ptr;
    fp.q_strides = fp.out_strides = qst;
    fp.k_strides = fp.v_strides = kst;
    fp.out_acc = out.ptr;
    fp.lse_acc = lse.ptr;
    fp.lse_strides = lst;
    fp.mode = AccumulateMode::kOverwrite;
    ExpectOk(LaunchForward(fp, nullptr));

    BackwardPrepareParams pp;
    pp.batch = c.batch;
    pp.heads = c.heads;
    pp.tokens = c.q_tokens;
    pp.head_dim = c.head_dim;
    pp.element = c.element;
    pp.dout = dout.ptr;
    pp.out = out.ptr;
    pp.dout_strides = pp.out_strides = qst;
    pp.delta = delta.ptr;
    pp.delta_strides = lst;
    ExpectOk(LaunchBackwardPrepare(pp, nullptr));

    const int64_t split = c.kv_tokens > 1 ? std::uniform_int_distribution<int64_t>(1, c.kv_tokens - 1)(rng_) : 0;
    const int64_t begins[2] = {0, split};
    const int64_t ends[2] = {split, c.kv_tokens};
    for (int part = 0; part < 2; ++part) {
      BackwardParams bp;
      bp.shape = ToBlockShape(c);
      bp.shape.kv_tokens = ends[part] - begins[part];
      bp.shape.diagonal_offset = c.offset - begins[part];
      const int64_t koff = begins[part] * c.head_dim;
      bp.q = q.ptr;
      bp.k = k.ptr + koff;
      bp.v = v.ptr + koff;
      bp.dout = dout.ptr;
      bp.lse = lse.ptr;
      bp.delta = delta.ptr;
      bp.q_strides = bp.dout_strides = bp.dq_strides = qst;
      bp.k_strides = bp.v_strides = bp.dk_strides = bp.dv_strides = kst;
      bp.lse_strides = bp.delta_strides = lst;
      bp.dq = dq.ptr;
      bp.dk = dk.ptr + koff;
      bp.dv = dv.ptr + koff;
      bp.accumulate_dkv = false;
      ExpectOk(Launch(bp));
    }
    RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
    const Compare eq = RelError(dq.Download(), ref_dq);
    const Compare ek = RelError(dk.Download(), ref_dk);
    const Compare ev = RelError(dv.Download(), ref_dv);
    std::printf("[ backward ] %s %-70s split %lld dq rel %.3e  dk rel %.3e  dv rel %.3e\n", Tag(),
                Describe(c).c_str(), static_cast<long long>(split), eq.rel, ek.rel, ev.rel);
    EXPECT_EQ(eq.not_written, 0);
    EXPECT_EQ(ek.not_written, 0);
    EXPECT_EQ(ev.not_written, 0);
    EXPECT_LT(eq.rel, kGradTol);
    EXPECT_LT(ek.rel, kGradTol);
    EXPECT_LT(ev.rel, kGradTol);
  }
}

// dk/dv accumulate mode adds onto what is there.
TEST_P(BackwardKernelTest, BackwardAccumulatesDkDv) {
  const Case c{"accumulate", 1, 2, 2, 100, 150, 64, true, 20, ElementType::kBFloat16};
  const Inputs in = MakeInputs(c, rng_);
  std::vector<double> ref_out(in.shape.QElements()), ref_lse(in.shape.LseElements());
  cpu::ReferenceForward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(), ref_out.data(),
                        ref_lse.data());
  std::vector<double> ref_dq(in.shape.QElements()), ref_dk(in.shape.KvElements()), ref_dv(in.shape.KvElements());
  cpu::ReferenceBackward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(), ref_out.data(),
                         ref_lse.data(), in.dout.values.data(), ref_dq.data(), ref_dk.data(), ref_dv.data());
  // Start dk/dv from random values; the reference is that start plus the gradient.
  std::normal_distribution<float> dist;
  std::vector<float> dk0(ref_dk.size()), dv0(ref_dv.size());
  for (size_t i = 0; i < dk0.size(); ++i) {
    dk0[i] = dist(rng_);
    dv0[i] = dist(rng_);
    ref_dk[i] += dk0[i];
    ref_dv[i] += dv0[i];
  }
  DeviceBuffer<uint16_t> q(in.q.bits.size()), k(in.k.bits.size()), v(in.v.bits.size()), dout(in.dout.bits.size());
  q.Upload(in.q.bits);
  k.Upload(in.k.bits);
  v.Upload(in.v.bits);
  dout.Upload(in.dout.bits);
  std::vector<float> lse_h(ref_lse.size()), delta_h(ref_lse.size());
  for (size_t i = 0; i < lse_h.size(); ++i) lse_h[i] = static_cast<float>(ref_lse[i]);
  for (int64_t r = 0; r < static_cast<int64_t>(delta_h.size()); ++r) {
    double s = 0;
    for (int d = 0; d < c.head_dim; ++d) s += in.dout.values[r * c.head_dim + d] * ref_out[r * c.head_dim + d];
    delta_h[r] = static_cast<float>(s);
  }
  DeviceBuffer<float> lse(lse_h.size()), delta(delta_h.size()), dq(ref_dq.size()), dk(dk0.size()), dv(dv0.size());
  lse.Upload(lse_h);
  delta.Upload(delta_h);
  dq.Zero();
  dk.Upload(dk0);
  dv.Upload(dv0);
  BackwardParams bp;
  bp.shape = ToBlockShape(c);
  bp.q = q.ptr;
  bp.k = k.ptr;
  bp.v = v.ptr;
  bp.dout = dout.ptr;
  bp.lse = lse.ptr;
  bp.delta = delta.ptr;
  bp.q_strides = bp.dout_strides = bp.dq_strides = Contig(c.heads, c.q_tokens, c.head_dim);
  bp.k_strides = bp.v_strides = bp.dk_strides = bp.dv_strides = Contig(c.kv_heads, c.kv_tokens, c.head_dim);
  bp.lse_strides = bp.delta_strides = ContigLse(c.heads, c.q_tokens);
  bp.dq = dq.ptr;
  bp.dk = dk.ptr;
  bp.dv = dv.ptr;
  bp.accumulate_dkv = true;
  ExpectOk(Launch(bp));
  RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
  const Compare eq = RelError(dq.Download(), ref_dq);
  const Compare ek = RelError(dk.Download(), ref_dk);
  const Compare ev = RelError(dv.Download(), ref_dv);
  std::printf("[ bwd acc  ] %s %-70s dq rel %.3e  dk rel %.3e  dv rel %.3e\n", Tag(), Describe(c).c_str(), eq.rel,
              ek.rel, ev.rel);
  EXPECT_LT(eq.rel, kGradTol);
  EXPECT_LT(ek.rel, kGradTol);
  EXPECT_LT(ev.rel, kGradTol);
}

// Window/document masks (TokenMask): a block at global offsets (q 300, keys 170) of a sequence of documents of 37,
// 5 (shorter than a tile), 400 (spans tiles) tokens..., causal window 150, forward and backward, bf16 and fp16.
TEST_P(BackwardKernelTest, MaskedForwardAndBackwardMatchReference) {
  for (ElementType et : {ElementType::kBFloat16, ElementType::kFloat16}) {
    const Case c{"masked", 1, 4, 2, 333, 390, 128, false, 0, et};
    SCOPED_TRACE(Describe(c));
    auto docs = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{0, 37, 42, 442, 450, 700, 1000});
    const Mask mask(true, MaskShape{.window_left = 150, .window_right = 0, .documents = docs});
    std::vector<int32_t> bounds(2000);
    for (size_t d = 0; d + 1 < docs->size(); ++d)
      for (int64_t t = (*docs)[d]; t < (*docs)[d + 1]; ++t) bounds[t] = int32_t((*docs)[d]), bounds[1000 + t] = int32_t((*docs)[d + 1]);
    DeviceBuffer<int32_t> dbounds(bounds.size());
    dbounds.Upload(bounds);
    Inputs in = MakeInputs(c, rng_);
    in.mask = cpu::MaskSpec{.general = &mask, .q_global = 300, .kv_global = 170};
    std::vector<double> ro(in.shape.QElements()), rl(in.shape.LseElements()), rdq(ro.size()), rdk(in.shape.KvElements()), rdv(rdk.size());
    cpu::ReferenceForward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(), ro.data(), rl.data());
    cpu::ReferenceBackward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(), ro.data(),
                           rl.data(), in.dout.values.data(), rdq.data(), rdk.data(), rdv.data());
    DeviceBuffer<uint16_t> q(in.q.bits.size()), k(in.k.bits.size()), v(in.v.bits.size()), dout(in.dout.bits.size());
    q.Upload(in.q.bits), k.Upload(in.k.bits), v.Upload(in.v.bits), dout.Upload(in.dout.bits);
    DeviceBuffer<float> out(ro.size()), lse(rl.size()), delta(rl.size()), dq(rdq.size()), dk(rdk.size()), dv(rdv.size());
    out.Poison(), lse.Poison(), delta.Poison(), dq.Zero(), dk.Poison(), dv.Poison();
    BlockShape shape = ToBlockShape(c);
    shape.mask = TokenMask{.enabled = true, .q_global = 300, .kv_global = 170, .lo = -150, .hi = 0,
                           .doc_start = dbounds.ptr, .doc_end = dbounds.ptr + 1000};
    const TensorStrides qst = Contig(c.heads, c.q_tokens, c.head_dim), kst = Contig(c.kv_heads, c.kv_tokens, c.head_dim);
    const TensorStrides lst = ContigLse(c.heads, c.q_tokens);
    ForwardParams fp{.shape = shape, .q = q.ptr, .k = k.ptr, .v = v.ptr, .q_strides = qst, .k_strides = kst,
                     .v_strides = kst, .out_acc = out.ptr, .lse_acc = lse.ptr, .out_strides = qst, .lse_strides = lst,
                     .mode = AccumulateMode::kOverwrite};
    ExpectOk(GetParam() == "wgmma" ? LaunchForwardWgmma(fp, nullptr) : LaunchForwardMma(fp, nullptr));
    BackwardPrepareParams pp{.batch = 1, .heads = c.heads, .tokens = c.q_tokens, .head_dim = c.head_dim, .element = et,
                             .dout = dout.ptr, .out = out.ptr, .dout_strides = qst, .out_strides = qst,
                             .delta = delta.ptr, .delta_strides = lst};
    ExpectOk(LaunchBackwardPrepare(pp, nullptr));
    BackwardParams bp;
    bp.shape = shape;
    bp.q = q.ptr, bp.k = k.ptr, bp.v = v.ptr, bp.dout = dout.ptr, bp.lse = lse.ptr, bp.delta = delta.ptr;
    bp.q_strides = bp.dout_strides = bp.dq_strides = qst;
    bp.k_strides = bp.v_strides = bp.dk_strides = bp.dv_strides = kst;
    bp.lse_strides = bp.delta_strides = lst;
    bp.dq = dq.ptr, bp.dk = dk.ptr, bp.dv = dv.ptr;
    ExpectOk(Launch(bp));
    RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
    const Compare eo = RelError(out.Download(), ro), el = RelError(lse.Download(), rl);
    const Compare eq = RelError(dq.Download(), rdq), ek = RelError(dk.Download(), rdk), ev = RelError(dv.Download(), rdv);
    std::printf("[ masked   ] %s %s out %.3e lse %.3e dq %.3e dk %.3e dv %.3e\n", Tag(), Describe(c).c_str(), eo.rel,
                el.rel, eq.rel, ek.rel, ev.rel);
    for (const Compare& e : {eo, el, eq, ek, ev}) EXPECT_EQ(e.not_written, 0);
    EXPECT_LT(eo.rel, kOutTol);
    EXPECT_LT(el.rel, kOutTol);
    for (const Compare& e : {eq, ek, ev}) EXPECT_LT(e.rel, kGradTol);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, ForwardKernelTest, ::testing::Values(std::string("wgmma"), std::string("mma")),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

INSTANTIATE_TEST_SUITE_P(Kernels, BackwardKernelTest, ::testing::Values(std::string("wgmma"), std::string("mma")),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST_F(AttentionKernelTest, RejectsBadShapes) {
  ForwardParams p;
  p.shape.head_dim = 96;
  p.shape.q_tokens = 4;
  EXPECT_FALSE(LaunchForward(p, nullptr).ok());
  p.shape.head_dim = 128;
  p.shape.heads = 6;
  p.shape.kv_heads = 4;
  EXPECT_FALSE(LaunchForward(p, nullptr).ok());
}

}  // namespace
}  // namespace ringlab::cuda
