// GPU attention kernels against the float64 CPU reference, by relative error ||x - ref|| / ||ref||.
//
// Every run draws fresh random inputs (seeded from std::random_device, seed printed), poisons every output with NaN
// before the kernels run and checks that every element was written. Skips cleanly when no GPU is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/cuda/attention_test_support.h"

namespace ringlab::cuda {
namespace {

using namespace test_support;

// The forward tests run once per kernel: "ws" (LaunchForwardWs) and "wgmma" (LaunchForwardWgmma), Hopper only:
// skipped on other GPUs, and "mma" (LaunchForwardMma, any GPU). LaunchForward picks one of them at run time. Head
// dim 256 exists in ws alone; the other kernels skip those cases.
class ForwardKernelTest : public AttentionKernelTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    AttentionKernelTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() != "mma" && !DeviceIsCc90()) GTEST_SKIP() << "the " << GetParam() << " kernel needs compute capability 9.0";
  }
  Status Launch(const ForwardParams& p) {
    if (GetParam() == "ws") return LaunchForwardWs(p, nullptr);
    return GetParam() == "wgmma" ? LaunchForwardWgmma(p, nullptr) : LaunchForwardMma(p, nullptr);
  }
  bool Supports(int head_dim) const { return head_dim != 256 || GetParam() == "ws"; }
};

// RINGLAB_CUDA_TEST_SMALL=1 (for compute-sanitizer runs) keeps two small cases.
const std::vector<Case>& Cases() {
  static const std::vector<Case> small = {
      {"small_causal_ragged", 1, 2, 1, 70, 150, 64, true, 30, ElementType::kBFloat16},
      {"small_d128", 1, 1, 1, 130, 65, 128, true, -10, ElementType::kFloat16},
      {"small_d256", 1, 2, 1, 129, 100, 256, true, 20, ElementType::kBFloat16},
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
      {"d64_fp16_causal_gqa", 2, 4, 2, 450, 390, 64, true, -30, ElementType::kFloat16},
      {"d128_fp16_full_ragged", 1, 3, 1, 257, 383, 128, false, 0, ElementType::kFloat16},
      {"d256_full", 1, 2, 2, 200, 300, 256, false, 0, ElementType::kBFloat16},
      {"d256_causal_gqa", 2, 4, 2, 333, 333, 256, true, 0, ElementType::kBFloat16},
      {"d256_fp16_causal_ragged", 1, 2, 1, 190, 450, 256, true, 200, ElementType::kFloat16},
      {"d256_causal_neg", 1, 2, 2, 300, 70, 256, true, -65, ElementType::kBFloat16},
  };
  return cases;
}

TEST_P(ForwardKernelTest, ForwardOverwriteMatchesReference) {
  for (const Case& c : Cases()) {
    if (!Supports(c.head_dim)) continue;
    SCOPED_TRACE(Describe(c));
    const Inputs in = MakeInputs(c, rng_);
    const auto [ref_out, ref_lse] = ReferenceForwardOf(in);

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
    if (c.kv_tokens < 2 || !Supports(c.head_dim)) continue;
    SCOPED_TRACE(Describe(c));
    const Inputs in = MakeInputs(c, rng_);
    const auto [ref_out, ref_lse] = ReferenceForwardOf(in);

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

// A ring step's view: the q/out/lse and k/v blocks are token ranges in the middle of larger buffers whose other
// tokens hold data (random, and the poison in out/lse). The block must read none of the neighbours (TMA bounds, or the
// cp.async row checks) and write nothing outside its rows.
TEST_P(ForwardKernelTest, ForwardBlockInsideLargerBuffers) {
  const Case cases[] = {{"inside_causal", 1, 4, 2, 190, 260, 128, true, 70, ElementType::kBFloat16},
                        {"inside_full_d64", 2, 2, 1, 131, 77, 64, false, 0, ElementType::kFloat16},
                        {"inside_d256", 1, 2, 2, 70, 150, 256, true, 80, ElementType::kBFloat16}};
  for (const Case& c : cases) {
    if (!Supports(c.head_dim)) continue;
    SCOPED_TRACE(Describe(c));
    const Inputs in = MakeInputs(c, rng_);
    const auto [ref_out, ref_lse] = ReferenceForwardOf(in);
    const int d = c.head_dim;
    const int64_t q_pad = 37, kv_pad = 45;  // tokens before and after each block
    const int64_t sq = c.q_tokens + 2 * q_pad, skv = c.kv_tokens + 2 * kv_pad;
    DeviceBuffer<uint16_t> q(size_t(c.batch) * c.heads * sq * d), k(size_t(c.batch) * c.kv_heads * skv * d), v(k.n);
    // The block's tokens copied into the middle of random buffers (`total` tokens per head); the rest stays random.
    auto embed = [&](DeviceBuffer<uint16_t>& dst, const Operand& block, int64_t tokens, int64_t pad, int64_t total) {
      std::vector<uint16_t> big = RandomOperand(dst.n, c.element, rng_).bits;
      for (size_t bh = 0; bh < dst.n / (total * d); ++bh)
        std::copy_n(block.bits.begin() + bh * tokens * d, tokens * d, big.begin() + (bh * total + pad) * d);
      dst.Upload(big);
    };
    embed(q, in.q, c.q_tokens, q_pad, sq);
    embed(k, in.k, c.kv_tokens, kv_pad, skv);
    embed(v, in.v, c.kv_tokens, kv_pad, skv);
    DeviceBuffer<float> out(size_t(c.batch) * c.heads * sq * d), lse(size_t(c.batch) * c.heads * sq);
    out.Poison();
    lse.Poison();
    ForwardParams p;
    p.shape = ToBlockShape(c);
    p.q = q.ptr + q_pad * d;
    p.k = k.ptr + kv_pad * d;
    p.v = v.ptr + kv_pad * d;
    p.q_strides = p.out_strides = Contig(c.heads, sq, d);
    p.k_strides = p.v_strides = Contig(c.kv_heads, skv, d);
    p.out_acc = out.ptr + q_pad * d;
    p.lse_acc = lse.ptr + q_pad;
    p.lse_strides = ContigLse(c.heads, sq);
    p.mode = AccumulateMode::kOverwrite;
    ExpectOk(Launch(p));
    RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
    // Split the big outputs into the block (compared to the reference) and the rest (must still be poison).
    const std::vector<float> out_h = out.Download(), lse_h = lse.Download();
    std::vector<float> out_block, lse_block;
    int64_t outside_written = 0;
    for (int64_t bh = 0; bh < int64_t{c.batch} * c.heads; ++bh)
      for (int64_t t = 0; t < sq; ++t) {
        const bool inside = t >= q_pad && t < q_pad + c.q_tokens;
        const float* row = &out_h[(bh * sq + t) * d];
        if (inside) {
          out_block.insert(out_block.end(), row, row + d);
          lse_block.push_back(lse_h[bh * sq + t]);
        } else {
          outside_written += !std::isnan(lse_h[bh * sq + t]);
          for (int i = 0; i < d; ++i) outside_written += !std::isnan(row[i]);
        }
      }
    const Compare eo = RelError(out_block, ref_out);
    const Compare el = RelError(lse_block, ref_lse);
    std::printf("[ inside   ] %s %-70s out rel %.3e  lse rel %.3e\n", GetParam().c_str(), Describe(c).c_str(), eo.rel,
                el.rel);
    EXPECT_EQ(outside_written, 0);
    EXPECT_EQ(eo.not_written + el.not_written, 0);
    EXPECT_LT(eo.rel, kOutTol);
    EXPECT_LT(el.rel, kOutTol);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, ForwardKernelTest,
                         ::testing::Values(std::string("ws"), std::string("wgmma"), std::string("mma")),
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
