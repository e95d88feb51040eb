// GPU attention kernels under window and document masks (TokenMask, kernels/cuda/attention_kernels.h) against the
// float64 CPU reference (kernels/cpu/reference_attention.h with a core/mask.h Mask), forward and backward, bf16 and
// fp16, for every kernel: "ws", "wgmma" (compute capability 9.0 only, skipped elsewhere), "mma", and "dispatch"
// (LaunchForward / LaunchBackward, whatever RINGLAB_FWD_KERNEL / RINGLAB_BWD_KERNEL select).
//
// Each case is one ring step's block: query tokens [q_global, q_global + q_tokens) against key tokens
// [kv_global, kv_global + kv_tokens) of a packed sequence. Fresh random inputs (seed printed), poisoned outputs; the
// forward runs the block as two key blocks (overwrite, then the log-sum-exp merge), the backward the same two key
// blocks adding into a dQ that starts from random values, with lse and delta from the float64 reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/mask.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"
#include "tests/cuda/attention_test_support.h"

namespace ringlab::cuda {
namespace {

using namespace test_support;

struct MaskCase {
  const char* name;
  int64_t seq;                 // tokens of the packed sequence
  std::vector<int64_t> docs;   // cu_seqlens (0, ..., seq); empty: one document
  bool causal;
  int64_t window_left, window_right;  // -1: unlimited
  int64_t q_global, q_tokens, kv_global, kv_tokens;
  int head_dim;
};

const std::vector<MaskCase>& MaskCases() {
  // Documents shorter than a tile (5, 37 tokens), one-token documents, documents spanning tiles and blocks.
  static const std::vector<int64_t> kDocs = {0, 37, 42, 43, 44, 442, 450, 700, 701, 1000};
  static const std::vector<MaskCase> cases = {
      // A window that crosses the diagonal (keys up to 70 after the query), no documents.
      {"window_both_sides", 1024, {}, false, 200, 70, 256, 333, 128, 500, 128},
      // A causal window larger than the block: early rows see part of it, later rows nothing (lse = -inf).
      {"window_past_block", 4096, {}, true, 1500, -1, 2048, 300, 0, 700, 128},
      // A window that covers the whole block: the masked kernels on a block they do not narrow.
      {"window_covers_block", 4096, {}, true, 4000, -1, 2048, 256, 1024, 512, 64},
      {"documents_full", 1000, kDocs, false, -1, -1, 300, 333, 170, 390, 128},
      {"documents_causal_window", 1000, kDocs, true, 150, -1, 300, 333, 170, 390, 128},
      {"documents_causal_window_d64", 1000, kDocs, true, 150, -1, 300, 333, 170, 390, 64},
      // Head dim 256: the ws kernels alone (64 keys per backward CTA; the other kernels refuse D = 256), and the
      // backward dispatcher, which takes ws there.
      {"documents_causal_window_d256", 1000, kDocs, true, 150, -1, 300, 333, 170, 390, 256},
      {"window_both_sides_d256", 1024, {}, false, 200, 70, 256, 333, 128, 500, 256},
      // One document spanning both blocks (keys before the queries, as a later ring step sees them).
      {"document_spans_blocks", 2048, {0, 900, 2048}, true, -1, -1, 1024, 512, 512, 512, 128},
      // Keys after every query under a causal mask: a block no row sees (out 0, lse -inf; merge leaves it).
      {"keys_after_queries", 2048, {0, 1000, 2048}, true, -1, -1, 0, 200, 512, 256, 128},
  };
  return cases;
}

std::string DescribeMask(const MaskCase& c, ElementType et) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: q [%lld, +%lld) kv [%lld, +%lld) D=%d %s", c.name,
                static_cast<long long>(c.q_global), static_cast<long long>(c.q_tokens),
                static_cast<long long>(c.kv_global), static_cast<long long>(c.kv_tokens), c.head_dim,
                et == ElementType::kBFloat16 ? "bf16" : "fp16");
  return buf;
}

// The core/mask.h mask of a case (the CPU reference's) and its per-token document bounds on the device (doc_start
// then doc_end, seq each), as kernels/cuda/rank_mask.cc uploads them.
struct CaseMask {
  Mask mask;
  std::unique_ptr<DeviceBuffer<int32_t>> bounds;

  explicit CaseMask(const MaskCase& c)
      : mask(c.causal, MaskShape{.window_left = c.window_left,
                                 .window_right = c.window_right,
                                 .documents = c.docs.empty() ? nullptr
                                                             : std::make_shared<std::vector<int64_t>>(c.docs)}) {
    if (c.docs.empty()) return;
    std::vector<int32_t> b(2 * c.seq);
    for (size_t d = 0; d + 1 < c.docs.size(); ++d)
      for (int64_t t = c.docs[d]; t < c.docs[d + 1]; ++t) {
        b[t] = static_cast<int32_t>(c.docs[d]);
        b[c.seq + t] = static_cast<int32_t>(c.docs[d + 1]);
      }
    bounds = std::make_unique<DeviceBuffer<int32_t>>(b.size());
    bounds->Upload(b);
  }

  // The kernels' mask of the block whose keys start at global token kv_global.
  TokenMask ForBlock(const MaskCase& c, int64_t kv_global) const {
    constexpr int64_t kFar = int64_t{1} << 60;
    TokenMask m;
    m.enabled = true;
    m.q_global = c.q_global;
    m.kv_global = kv_global;
    m.lo = std::max(mask.LowestOffset(), -kFar);
    m.hi = std::min(mask.HighestOffset(), kFar);
    if (bounds) {
      m.doc_start = bounds->ptr;
      m.doc_end = bounds->ptr + c.seq;
    }
    return m;
  }
};

constexpr int kBatch = 2, kHeads = 4, kKvHeads = 2;

Case AsCase(const MaskCase& c, ElementType et) {
  return Case{c.name, kBatch, kHeads, kKvHeads, c.q_tokens, c.kv_tokens, c.head_dim, false, 0, et};
}

// One case's block: random operands, the float64 reference forward under the case's mask, the operands on the
// device, and the kernels' parameters for a key sub-block [begin, end) of it (its own kv_global; contiguous tensors).
struct MaskedBlock {
  const MaskCase& mc;
  const Case c;
  const CaseMask cm;
  Inputs in;
  std::vector<double> ref_out, ref_lse;
  DeviceBuffer<uint16_t> q, k, v, dout;

  MaskedBlock(const MaskCase& m, ElementType et, std::mt19937_64& rng)
      : mc(m), c(AsCase(m, et)), cm(m), in(MakeInputs(c, rng)), q(in.q.bits.size()), k(in.k.bits.size()),
        v(in.v.bits.size()), dout(in.dout.bits.size()) {
    in.mask = cpu::MaskSpec{.general = &cm.mask, .q_global = mc.q_global, .kv_global = mc.kv_global};
    std::tie(ref_out, ref_lse) = ReferenceForwardOf(in);
    q.Upload(in.q.bits);
    k.Upload(in.k.bits);
    v.Upload(in.v.bits);
    dout.Upload(in.dout.bits);
  }
  BlockShape ShapeOf(int64_t begin, int64_t end) const {
    BlockShape s = ToBlockShape(c);
    s.kv_tokens = end - begin;
    s.mask = cm.ForBlock(mc, mc.kv_global + begin);
    return s;
  }
  TensorStrides QStrides() const { return Contig(c.heads, c.q_tokens, c.head_dim); }
  TensorStrides KvStrides() const { return Contig(c.kv_heads, c.kv_tokens, c.head_dim); }
  TensorStrides LseStrides() const { return ContigLse(c.heads, c.q_tokens); }
  ForwardParams ForwardOf(int64_t begin, int64_t end, float* out, float* lse, AccumulateMode mode) const {
    const int64_t koff = begin * c.head_dim;
    return ForwardParams{.shape = ShapeOf(begin, end), .q = q.ptr, .k = k.ptr + koff, .v = v.ptr + koff,
                         .q_strides = QStrides(), .k_strides = KvStrides(), .v_strides = KvStrides(),
                         .out_acc = out, .lse_acc = lse, .out_strides = QStrides(), .lse_strides = LseStrides(),
                         .mode = mode};
  }
  // dQ is added into, dK/dV of the sub-block overwritten.
  BackwardParams BackwardOf(int64_t begin, int64_t end, const float* lse, const float* delta, float* dq, float* dk,
                            float* dv) const {
    const int64_t koff = begin * c.head_dim;
    return BackwardParams{.shape = ShapeOf(begin, end), .q = q.ptr, .k = k.ptr + koff, .v = v.ptr + koff,
                          .dout = dout.ptr, .lse = lse, .delta = delta, .q_strides = QStrides(),
                          .k_strides = KvStrides(), .v_strides = KvStrides(), .dout_strides = QStrides(),
                          .lse_strides = LseStrides(), .delta_strides = LseStrides(), .dq = dq, .dk = dk + koff,
                          .dv = dv + koff, .dq_strides = QStrides(), .dk_strides = KvStrides(),
                          .dv_strides = KvStrides(), .accumulate_dkv = false};
  }
};

class MaskedKernelTest : public AttentionKernelTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    AttentionKernelTest::SetUp();
    if (IsSkipped()) return;
    const bool hopper_only = GetParam() == "ws" || GetParam() == "wgmma";
    if (hopper_only && !DeviceIsCc90()) GTEST_SKIP() << "the " << GetParam() << " kernel needs compute capability 9.0";
    LaunchDenseFirst();
  }
  // A ring runs dense blocks (the diagonal) and masked ones in one process: the dense kernels of every element type
  // and head dim run first, so that a masked kernel sharing a launcher instantiation with its dense twin must still
  // get its own shared-memory limit raised (it once did not: "invalid argument").
  void LaunchDenseFirst() {
    for (ElementType et : {ElementType::kBFloat16, ElementType::kFloat16})
      for (int d : {64, 128}) {
        const MaskCase dense{"dense_first", 130, {}, true, -1, -1, 0, 130, 0, 130, d};
        const MaskedBlock blk(dense, et, rng_);
        DeviceBuffer<float> out(blk.ref_out.size()), lse(blk.ref_lse.size()), dq(out.n), dk(blk.k.n), dv(blk.k.n);
        ForwardParams fp = blk.ForwardOf(0, dense.kv_tokens, out.ptr, lse.ptr, AccumulateMode::kOverwrite);
        fp.shape.mask = TokenMask{};  // the plain causal path
        fp.shape.causal = true;
        ExpectOk(Forward(fp));
        dq.Zero();
        BackwardParams bp = blk.BackwardOf(0, dense.kv_tokens, lse.ptr, lse.ptr, dq.ptr, dk.ptr, dv.ptr);
        bp.shape = fp.shape;
        ExpectOk(Backward(bp));
        RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
      }
  }
  Status Forward(const ForwardParams& p) {
    if (GetParam() == "ws") return LaunchForwardWs(p, nullptr);
    if (GetParam() == "wgmma") return LaunchForwardWgmma(p, nullptr);
    if (GetParam() == "mma") return LaunchForwardMma(p, nullptr);
    return LaunchForward(p, nullptr);
  }
  Status Backward(const BackwardParams& p) {
    if (GetParam() == "ws") return LaunchBackwardWs(p, nullptr);
    if (GetParam() == "wgmma") return LaunchBackwardWgmma(p, nullptr);
    if (GetParam() == "mma") return LaunchBackwardMma(p, nullptr);
    return LaunchBackward(p, nullptr);
  }
  // The two key blocks [0, split) and [split, kv_tokens) of a case, split at random.
  int64_t Split(const MaskCase& c) { return std::uniform_int_distribution<int64_t>(1, c.kv_tokens - 1)(rng_); }

 public:  // the checks are named by member pointer in the TEST_P bodies (derived classes)
  void CheckBackwardTwoBlocks(const char* tag);
  // Runs (this->*check)(tag) with the persistent masked ws forward capped at 1, 2 and 3 CTAs
  // (RINGLAB_MASKED_PERSISTENT), so that every CTA walks many tiles of the small cases; then lifts the cap.
  void WithFewCtas(const char* pass, void (MaskedKernelTest::*check)(const char*)) {
    if (GetParam() != "ws" && GetParam() != "dispatch") GTEST_SKIP() << "only the ws forward is persistent";
    // RINGLAB_TEST_FEW_CTAS (e.g. "2") narrows the caps, so that a sanitizer's slow run fits its time.
    const char* only = std::getenv("RINGLAB_TEST_FEW_CTAS");
    for (const char* cap : {"1", "2", "3"}) {
      if (only && std::string(only).find(cap) == std::string::npos) continue;
      ASSERT_EQ(setenv("RINGLAB_MASKED_PERSISTENT", cap, 1), 0);
      const std::string tag = std::string("persistent ") + pass + " " + cap;
      (this->*check)(tag.c_str());
    }
    ASSERT_EQ(unsetenv("RINGLAB_MASKED_PERSISTENT"), 0);
  }

  // Every case's forward over two key blocks, later keys first (overwrite), then the earlier ones merged in (the
  // order is free), against the float64 reference; poisoned outputs. `tag` names the run in the printed lines.
  void CheckForwardTwoBlocks(const char* tag) {
    for (const MaskCase& mc : MaskCases())
      for (ElementType et : {ElementType::kBFloat16, ElementType::kFloat16}) {
        if (mc.head_dim == 256 && GetParam() != "ws") continue;
        SCOPED_TRACE(DescribeMask(mc, et));
        const MaskedBlock blk(mc, et, rng_);
        DeviceBuffer<float> out(blk.ref_out.size()), lse(blk.ref_lse.size());
        out.Poison();
        lse.Poison();
        const int64_t split = Split(mc);
        ExpectOk(Forward(blk.ForwardOf(split, mc.kv_tokens, out.ptr, lse.ptr, AccumulateMode::kOverwrite)));
        ExpectOk(Forward(blk.ForwardOf(0, split, out.ptr, lse.ptr, AccumulateMode::kMerge)));
        RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
        const Compare eo = RelError(out.Download(), blk.ref_out), el = RelError(lse.Download(), blk.ref_lse);
        std::printf("[ %s ] %-8s %-62s split %4lld out rel %.3e  lse rel %.3e\n", tag, GetParam().c_str(),
                    DescribeMask(mc, et).c_str(), static_cast<long long>(split), eo.rel, el.rel);
        EXPECT_EQ(eo.not_written, 0);
        EXPECT_EQ(el.not_written, 0);
        EXPECT_LT(eo.rel, kOutTol);
        EXPECT_LT(el.rel, kOutTol);
      }
  }
};

TEST_P(MaskedKernelTest, ForwardTwoBlocksMergedMatchReference) { CheckForwardTwoBlocks("mask fwd"); }

// The masked ws forward is persistent (attention_forward_ws.cu): a CTA walks query tiles blockIdx.x, + gridDim.x, ...
// with its K/V rings and Q buffer running on from tile to tile. The cases above have fewer query tiles than an H100
// has SMs, so there each CTA takes one; capped at 1, 2 and 3 CTAs (RINGLAB_MASKED_PERSISTENT) every CTA walks many
// tiles, empty ones (rows that see no key) between them, and the rings wrap with both parities.
TEST_P(MaskedKernelTest, ForwardPersistentFewCtasMatchReference) {
  WithFewCtas("fwd", &MaskedKernelTest::CheckForwardTwoBlocks);
}

// delta[b, h, i] = sum_d dout * out of the float64 reference, as float.
std::vector<float> DeltaOf(const std::vector<double>& dout, const std::vector<double>& out, int head_dim) {
  std::vector<float> delta(out.size() / head_dim);
  for (size_t i = 0; i < delta.size(); ++i) {
    double s = 0;
    for (int d = 0; d < head_dim; ++d) s += dout[i * head_dim + d] * out[i * head_dim + d];
    delta[i] = static_cast<float>(s);
  }
  return delta;
}

// Every case's backward over two key blocks (dQ accumulating into random values, dK/dV poisoned), lse and delta from
// the float64 reference, against its gradients. `tag` names the run in the printed lines.
void MaskedKernelTest::CheckBackwardTwoBlocks(const char* tag) {
  for (const MaskCase& mc : MaskCases())
    for (ElementType et : {ElementType::kBFloat16, ElementType::kFloat16}) {
      if (mc.head_dim == 256 && GetParam() != "ws" && GetParam() != "dispatch") continue;
      SCOPED_TRACE(DescribeMask(mc, et));
      const MaskedBlock blk(mc, et, rng_);
      const Inputs& in = blk.in;
      std::vector<double> ref_dq(in.shape.QElements()), ref_dk(in.shape.KvElements()), ref_dv(ref_dk.size());
      cpu::ReferenceBackward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(),
                             blk.ref_out.data(), blk.ref_lse.data(), in.dout.values.data(), ref_dq.data(),
                             ref_dk.data(), ref_dv.data());
      // lse and delta from the reference: the backward is checked alone.
      DeviceBuffer<float> lse(blk.ref_lse.size()), delta(blk.ref_lse.size());
      lse.Upload(std::vector<float>(blk.ref_lse.begin(), blk.ref_lse.end()));
      delta.Upload(DeltaOf(in.dout.values, blk.ref_out, blk.c.head_dim));
      // dQ accumulates (+=) from random values (subtracted before the comparison); dK/dV are overwritten (poisoned).
      std::vector<float> dq0(ref_dq.size());
      std::normal_distribution<float> normal(0.f, 1.f);
      for (float& x : dq0) x = normal(rng_);
      DeviceBuffer<float> dq(ref_dq.size()), dk(ref_dk.size()), dv(ref_dv.size());
      dq.Upload(dq0);
      dk.Poison();
      dv.Poison();
      const int64_t split = Split(mc);
      ExpectOk(Backward(blk.BackwardOf(0, split, lse.ptr, delta.ptr, dq.ptr, dk.ptr, dv.ptr)));
      ExpectOk(Backward(blk.BackwardOf(split, mc.kv_tokens, lse.ptr, delta.ptr, dq.ptr, dk.ptr, dv.ptr)));
      RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
      std::vector<float> dq_added = dq.Download();
      for (size_t i = 0; i < dq_added.size(); ++i) dq_added[i] -= dq0[i];
      const Compare eq = RelError(dq_added, ref_dq), ek = RelError(dk.Download(), ref_dk),
                    ev = RelError(dv.Download(), ref_dv);
      std::printf("[ %s ] %-8s %-62s split %4lld dq rel %.3e  dk rel %.3e  dv rel %.3e\n", tag, GetParam().c_str(),
                  DescribeMask(mc, et).c_str(), static_cast<long long>(split), eq.rel, ek.rel, ev.rel);
      for (const Compare& e : {eq, ek, ev}) {
        EXPECT_EQ(e.not_written, 0);
        EXPECT_LT(e.rel, kGradTol);
      }
    }
}

TEST_P(MaskedKernelTest, BackwardTwoBlocksMatchReference) { CheckBackwardTwoBlocks("mask bwd"); }

INSTANTIATE_TEST_SUITE_P(Kernels, MaskedKernelTest, ::testing::Values("ws", "wgmma", "mma", "dispatch"),
                         KernelParamName);

}  // namespace
}  // namespace ringlab::cuda
