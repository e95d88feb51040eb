// GPU backward attention kernels (ws, wgmma, mma) against the float64 CPU reference, by relative error.
//
// Every run draws fresh random inputs (seed printed), poisons every output that is written (not accumulated) with NaN
// and checks that every element was written; accumulated outputs start from random values. Blocks sit inside larger
// buffers (a ring step's view) whose other tokens must stay untouched. Skips cleanly when no GPU is present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/reference_attention.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/cuda/attention_test_support.h"

namespace ringlab::cuda {
namespace {

using namespace test_support;

// The backward tests run once per kernel: "ws" (LaunchBackwardWs), "ws1" (LaunchBackwardWsAtomicDq) and "wgmma"
// (LaunchBackwardWgmma), compute capability 9.0 only (skipped elsewhere), and "mma" (LaunchBackwardMma, any GPU).
// LaunchBackward picks one of them.
class BackwardKernelTest : public AttentionKernelTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    AttentionKernelTest::SetUp();
    if (IsSkipped()) return;
    if (GetParam() != "mma" && !DeviceIsCc90()) GTEST_SKIP() << "the " << GetParam() << " kernel needs compute capability 9.0";
  }
  Status Launch(const BackwardParams& p) {
    if (GetParam() == "ws") return LaunchBackwardWs(p, nullptr);
    if (GetParam() == "ws1") return LaunchBackwardWsAtomicDq(p, nullptr);
    return GetParam() == "wgmma" ? LaunchBackwardWgmma(p, nullptr) : LaunchBackwardMma(p, nullptr);
  }
  const char* Tag() const { return GetParam().c_str(); }
};

// Head dims 64 and 128 (256: HeadDim256), bf16 and fp16, causal and full, GQA, positive and negative diagonal offsets,
// lengths that are not multiples of the tiles (the ws kernel: 128 keys per CTA, 64 queries per tile), key tiles no
// query sees.
// RINGLAB_CUDA_TEST_SMALL=1 (compute-sanitizer runs) keeps three small cases.
const std::vector<Case>& BackwardCases() {
  using E = ElementType;
  static const std::vector<Case> small = {
      {"small_causal_ragged", 1, 2, 1, 70, 150, 64, true, 30, E::kBFloat16},
      {"small_d128", 1, 1, 1, 130, 65, 128, true, -10, E::kFloat16},
      {"small_gqa_unseen_keys", 1, 4, 2, 60, 200, 128, true, 0, E::kBFloat16},
  };
  if (std::getenv("RINGLAB_CUDA_TEST_SMALL")) return small;
  static const std::vector<Case> cases = {
      {"square", 1, 2, 2, 256, 256, 128, false, 0, E::kBFloat16},
      {"square_causal", 2, 2, 2, 256, 256, 128, true, 0, E::kBFloat16},
      {"ragged_causal_pos", 1, 2, 1, 200, 333, 128, true, 50, E::kBFloat16},
      {"ragged_causal_neg", 1, 2, 2, 300, 100, 128, true, -40, E::kBFloat16},
      {"causal_far_neg", 1, 1, 1, 130, 190, 64, true, -100, E::kBFloat16},
      {"one_token", 1, 2, 2, 1, 1, 128, false, 0, E::kBFloat16},
      {"one_query_many_keys", 1, 2, 2, 1, 77, 64, true, 40, E::kBFloat16},
      {"gqa_8to1", 1, 8, 1, 150, 150, 128, true, 0, E::kBFloat16},
      {"d64_fp16", 1, 4, 2, 190, 257, 64, false, 0, E::kFloat16},
      {"d128_fp16_causal", 1, 2, 2, 129, 129, 128, true, 0, E::kFloat16},
      {"multi_tile_gqa_causal", 1, 4, 2, 520, 700, 128, true, 180, E::kBFloat16},
      {"multi_tile_d64_full", 2, 2, 1, 333, 515, 64, false, 0, E::kFloat16},
      {"long_causal_d128", 1, 2, 2, 1000, 1100, 128, true, 100, E::kBFloat16},
      {"long_full_d64_gqa", 1, 4, 1, 700, 1300, 64, false, 0, E::kBFloat16},
      {"d64_fp16_causal_gqa", 2, 4, 2, 450, 390, 64, true, -30, E::kFloat16},
      {"d128_fp16_full_ragged", 1, 3, 1, 257, 383, 128, false, 0, E::kFloat16},
      {"d64_causal_unseen_keys", 1, 2, 1, 100, 300, 64, true, 0, E::kBFloat16},
      {"d128_fp16_causal_unseen_keys_gqa", 2, 4, 1, 90, 400, 128, true, -20, E::kFloat16},
  };
  return cases;
}

// Backward over the kv block split in two parts (dq accumulates over both, dk/dv written per part), after the
// forward and the delta preprocess on the GPU. `launch` runs the backward under test.
template <typename LaunchFn>
void CheckBackwardAfterForward(LaunchFn launch, const char* tag, std::mt19937_64& rng, const Case& c) {
  SCOPED_TRACE(Describe(c));
  const Inputs in = MakeInputs(c, rng);
  const auto [ref_out, ref_lse] = ReferenceForwardOf(in);
  std::vector<double> ref_dq(in.shape.QElements()), ref_dk(in.shape.KvElements()), ref_dv(in.shape.KvElements());
  cpu::ReferenceBackward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(), ref_out.data(),
                         ref_lse.data(), in.dout.values.data(), ref_dq.data(), ref_dk.data(), ref_dv.data());

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

  const int64_t split = c.kv_tokens > 1 ? std::uniform_int_distribution<int64_t>(1, c.kv_tokens - 1)(rng) : 0;
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
    ExpectOk(launch(bp));
  }
  RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
  const Compare eq = RelError(dq.Download(), ref_dq);
  const Compare ek = RelError(dk.Download(), ref_dk);
  const Compare ev = RelError(dv.Download(), ref_dv);
  std::printf("[ backward ] %s %-70s split %lld dq rel %.3e  dk rel %.3e  dv rel %.3e\n", tag, Describe(c).c_str(),
              static_cast<long long>(split), eq.rel, ek.rel, ev.rel);
  EXPECT_EQ(eq.not_written, 0);
  EXPECT_EQ(ek.not_written, 0);
  EXPECT_EQ(ev.not_written, 0);
  EXPECT_LT(eq.rel, kGradTol);
  EXPECT_LT(ek.rel, kGradTol);
  EXPECT_LT(ev.rel, kGradTol);
}

TEST_P(BackwardKernelTest, BackwardMatchesReference) {
  for (const Case& c : BackwardCases())
    CheckBackwardAfterForward([&](const BackwardParams& p) { return Launch(p); }, Tag(), rng_, c);
}

// A ring step's view in both dK/dV modes: every tensor of the block is a token range in the middle of a larger buffer
// (`pad` tokens before and after). dQ and, with accumulate_dkv, dK/dV start from random values inside the block (the
// reference adds them); dK/dV are poisoned otherwise; everything outside the block is poisoned and must stay so. lse
// and delta come from the float64 reference, so the backward is checked alone. `launch` runs the kernel under test.
template <typename LaunchFn>
void CheckBackwardInsideBuffers(LaunchFn launch, const char* tag, std::mt19937_64& rng, const Case& c, bool accumulate) {
  SCOPED_TRACE(Describe(c) + (accumulate ? " accumulate" : " overwrite"));
  const Inputs in = MakeInputs(c, rng);
  const auto [ref_out, ref_lse] = ReferenceForwardOf(in);
  std::vector<double> ref_dq(in.shape.QElements()), ref_dk(in.shape.KvElements()), ref_dv(in.shape.KvElements());
  cpu::ReferenceBackward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(), ref_out.data(),
                         ref_lse.data(), in.dout.values.data(), ref_dq.data(), ref_dk.data(), ref_dv.data());
  const int d = c.head_dim;
  const int64_t pad = 29, sq = c.q_tokens + 2 * pad, skv = c.kv_tokens + 2 * pad;
  const int64_t q_rows = int64_t{c.batch} * c.heads, kv_rows = int64_t{c.batch} * c.kv_heads;
  // Copies the block's rows (`width` values per token) into the middle of `big` (`total` tokens per batch x head).
  auto embed = [&](auto& big, const auto& block, int64_t rows, int64_t tokens, int64_t total, int64_t width) {
    for (int64_t bh = 0; bh < rows; ++bh)
      for (int64_t i = 0; i < tokens * width; ++i) big[(bh * total + pad) * width + i] = block[bh * tokens * width + i];
  };
  auto embedded_bits = [&](const Operand& op, int64_t rows, int64_t tokens, int64_t total, int64_t width) {
    std::vector<uint16_t> big = RandomOperand(size_t(rows * total * width), c.element, rng).bits;
    embed(big, op.bits, rows, tokens, total, width);
    return big;
  };
  const float nan = std::nanf("");
  std::normal_distribution<float> dist;
  // lse, delta (from the reference), dq (random start) and dk, dv (random start or poison) inside NaN buffers.
  std::vector<float> lse_h(q_rows * c.q_tokens), delta_h(lse_h.size()), dq0(ref_dq.size()), dk0(ref_dk.size()),
      dv0(ref_dv.size());
  for (size_t r = 0; r < lse_h.size(); ++r) {
    double s = 0;
    for (int i = 0; i < d; ++i) s += in.dout.values[r * d + i] * ref_out[r * d + i];
    lse_h[r] = static_cast<float>(ref_lse[r]);
    delta_h[r] = static_cast<float>(s);
  }
  for (size_t i = 0; i < dq0.size(); ++i) ref_dq[i] += dq0[i] = dist(rng);
  for (size_t i = 0; i < dk0.size(); ++i) {
    dk0[i] = accumulate ? dist(rng) : nan;
    dv0[i] = accumulate ? dist(rng) : nan;
    if (accumulate) {
      ref_dk[i] += dk0[i];
      ref_dv[i] += dv0[i];
    }
  }
  std::vector<float> lse_big(q_rows * sq, nan), delta_big(lse_big.size(), nan), dq_big(q_rows * sq * d, nan),
      dk_big(kv_rows * skv * d, nan), dv_big(dk_big.size(), nan);
  embed(lse_big, lse_h, q_rows, c.q_tokens, sq, 1);
  embed(delta_big, delta_h, q_rows, c.q_tokens, sq, 1);
  embed(dq_big, dq0, q_rows, c.q_tokens, sq, d);
  embed(dk_big, dk0, kv_rows, c.kv_tokens, skv, d);
  embed(dv_big, dv0, kv_rows, c.kv_tokens, skv, d);

  DeviceBuffer<uint16_t> q(q_rows * sq * d), dout(q.n), k(kv_rows * skv * d), v(k.n);
  q.Upload(embedded_bits(in.q, q_rows, c.q_tokens, sq, d));
  dout.Upload(embedded_bits(in.dout, q_rows, c.q_tokens, sq, d));
  k.Upload(embedded_bits(in.k, kv_rows, c.kv_tokens, skv, d));
  v.Upload(embedded_bits(in.v, kv_rows, c.kv_tokens, skv, d));
  DeviceBuffer<float> lse(lse_big.size()), delta(delta_big.size()), dq(dq_big.size()), dk(dk_big.size()), dv(dv_big.size());
  lse.Upload(lse_big);
  delta.Upload(delta_big);
  dq.Upload(dq_big);
  dk.Upload(dk_big);
  dv.Upload(dv_big);

  BackwardParams bp;
  bp.shape = ToBlockShape(c);
  bp.q = q.ptr + pad * d;
  bp.dout = dout.ptr + pad * d;
  bp.k = k.ptr + pad * d;
  bp.v = v.ptr + pad * d;
  bp.lse = lse.ptr + pad;
  bp.delta = delta.ptr + pad;
  bp.dq = dq.ptr + pad * d;
  bp.dk = dk.ptr + pad * d;
  bp.dv = dv.ptr + pad * d;
  bp.q_strides = bp.dout_strides = bp.dq_strides = Contig(c.heads, sq, d);
  bp.k_strides = bp.v_strides = bp.dk_strides = bp.dv_strides = Contig(c.kv_heads, skv, d);
  bp.lse_strides = bp.delta_strides = ContigLse(c.heads, sq);
  bp.accumulate_dkv = accumulate;
  ExpectOk(launch(bp));
  RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());

  // Splits a downloaded big buffer into the block (compared to the reference) and the rest (must still be NaN).
  int64_t outside_written = 0;
  auto block_of = [&](const std::vector<float>& big, int64_t rows, int64_t tokens, int64_t total) {
    std::vector<float> block;
    for (int64_t bh = 0; bh < rows; ++bh)
      for (int64_t t = 0; t < total; ++t) {
        const float* row = &big[(bh * total + t) * d];
        if (t >= pad && t < pad + tokens) {
          block.insert(block.end(), row, row + d);
        } else {
          for (int i = 0; i < d; ++i) outside_written += !std::isnan(row[i]);
        }
      }
    return block;
  };
  const Compare eq = RelError(block_of(dq.Download(), q_rows, c.q_tokens, sq), ref_dq);
  const Compare ek = RelError(block_of(dk.Download(), kv_rows, c.kv_tokens, skv), ref_dk);
  const Compare ev = RelError(block_of(dv.Download(), kv_rows, c.kv_tokens, skv), ref_dv);
  std::printf("[ bwd in   ] %s %-70s %s dq rel %.3e  dk rel %.3e  dv rel %.3e\n", tag, Describe(c).c_str(),
              accumulate ? "acc" : "ovw", eq.rel, ek.rel, ev.rel);
  EXPECT_EQ(outside_written, 0);
  EXPECT_EQ(eq.not_written + ek.not_written + ev.not_written, 0);
  EXPECT_LT(eq.rel, kGradTol);
  EXPECT_LT(ek.rel, kGradTol);
  EXPECT_LT(ev.rel, kGradTol);
}

TEST_P(BackwardKernelTest, BackwardInsideLargerBuffersBothModes) {
  using E = ElementType;
  const Case cases[] = {{"inside_d64_causal_gqa", 1, 4, 2, 150, 260, 64, true, 20, E::kBFloat16},
                        {"inside_d128_full_fp16", 2, 2, 1, 131, 77, 128, false, 0, E::kFloat16},
                        {"inside_d128_causal_neg", 1, 2, 2, 200, 140, 128, true, -30, E::kBFloat16},
                        {"inside_d64_fp16_full", 1, 3, 3, 65, 129, 64, false, 0, E::kFloat16}};
  const int n = std::getenv("RINGLAB_CUDA_TEST_SMALL") ? 1 : 4;  // compute-sanitizer runs: the first case only
  for (int i = 0; i < n; ++i)
    for (bool accumulate : {false, true})
      CheckBackwardInsideBuffers([&](const BackwardParams& p) { return Launch(p); }, Tag(), rng_, cases[i], accumulate);
}

// LaunchBackward (the dispatcher, whatever RINGLAB_BWD_KERNEL says) on one case: overwrite mode, poisoned dk/dv.
TEST_P(BackwardKernelTest, DispatcherMatchesReference) {
  if (GetParam() != "ws") GTEST_SKIP() << "the dispatcher is checked once";
  const Case c{"dispatch", 1, 2, 1, 190, 210, 128, true, 10, ElementType::kBFloat16};
  CheckBackwardInsideBuffers([](const BackwardParams& p) { return LaunchBackward(p, nullptr); }, "dispatch", rng_, c,
                             false);
}

// Head dim 256: the ws kernels (64 keys per CTA, both consumers on all of them, each with half of dK/dV's columns)
// against the reference in every mode: causal and full, both offset signs, GQA, bf16 and fp16, lengths that are not
// multiples of the tiles, key tiles no query sees, a block inside larger buffers in both dK/dV modes, and the
// dispatcher. The other backward kernels refuse D = 256 with InvalidArgument naming BlockShape.head_dim.
TEST_P(BackwardKernelTest, HeadDim256) {
  using E = ElementType;
  if (GetParam() == "wgmma" || GetParam() == "mma") {
    BackwardParams p;
    p.shape.q_tokens = p.shape.kv_tokens = 64;
    p.shape.head_dim = 256;
    const Status st = Launch(p);
    EXPECT_TRUE(st.IsInvalidArgument()) << st.message();
    EXPECT_NE(st.message().find("BlockShape.head_dim"), std::string::npos) << st.message();
    return;
  }
  const bool small = std::getenv("RINGLAB_CUDA_TEST_SMALL") != nullptr;  // compute-sanitizer: the first of each
  const Case cases[] = {
      {"d256_ragged_causal_pos_gqa", 1, 2, 1, 150, 201, 256, true, 50, E::kBFloat16},
      {"d256_square_full", 1, 2, 2, 128, 128, 256, false, 0, E::kBFloat16},
      {"d256_fp16_causal_neg", 1, 2, 2, 190, 97, 256, true, -30, E::kFloat16},
      {"d256_fp16_full_gqa", 2, 4, 1, 100, 130, 256, false, 0, E::kFloat16},
      {"d256_causal_unseen_keys", 1, 2, 1, 70, 260, 256, true, 0, E::kBFloat16},
      {"d256_one_token", 1, 1, 1, 1, 1, 256, false, 0, E::kBFloat16},
      {"d256_long_causal", 1, 2, 2, 700, 650, 256, true, 20, E::kBFloat16},
  };
  for (const Case& c : cases) {
    CheckBackwardAfterForward([&](const BackwardParams& p) { return Launch(p); }, Tag(), rng_, c);
    if (small) break;
  }
  const Case inside[] = {{"inside_d256_causal_gqa", 1, 4, 2, 130, 170, 256, true, 15, E::kBFloat16},
                         {"inside_d256_fp16_full", 1, 2, 1, 77, 66, 256, false, 0, E::kFloat16}};
  for (const Case& c : inside) {
    for (bool accumulate : {false, true})
      CheckBackwardInsideBuffers([&](const BackwardParams& p) { return Launch(p); }, Tag(), rng_, c, accumulate);
    if (small) break;
  }
  if (GetParam() == "ws" && !small) {
    const Case c{"dispatch_d256", 1, 2, 1, 90, 140, 256, true, 10, E::kFloat16};
    CheckBackwardInsideBuffers([](const BackwardParams& p) { return LaunchBackward(p, nullptr); }, "dispatch", rng_, c,
                               false);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, BackwardKernelTest,
                         ::testing::Values(std::string("ws"), std::string("ws1"), std::string("wgmma"),
                                           std::string("mma")),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace ringlab::cuda
