#include "calibrate/calibration_plan.h"

#include <algorithm>
#include <cmath>

#include "core/schedule.h"

namespace ringlab::calibrate {

int64_t KernelCase::DeviceBytes() const {
  const int64_t qe = int64_t(batch) * heads * q * head_dim, kve = int64_t(batch) * kv_heads * kv * head_dim;
  const int64_t rows = int64_t(batch) * heads * q;
  // q, dout (bf16); k, v (bf16); out, dq (float32); lse, delta (float32); dk, dv (float32)
  return 2 * qe * 2 + 2 * kve * 2 + 2 * qe * 4 + 2 * rows * 4 + 2 * kve * 4;
}

double KernelCase::Pairs() const {
  AttendBlock b;
  b.q_begin = 0;
  b.q_end = q;
  b.kv_begin = 0;
  b.kv_end = kv;
  b.causal = mask == "causal";
  b.diagonal_offset = diagonal_offset;
  return b.EffectivePairs();
}

std::string CoverageShape::Line() const {
  return std::to_string(batch) + " " + std::to_string(heads) + " " + std::to_string(seq) + " " +
         std::to_string(head_dim) + " " + mask;
}

const std::vector<CoverageShape>& HeldOutShapes() {
  static const std::vector<CoverageShape> shapes = {
      {8, 32, 2048, 128, "causal"}, {1, 8, 4096, 128, "causal"},   {2, 16, 8192, 64, "full"},
      {4, 16, 8192, 128, "full"},   {1, 64, 16384, 128, "causal"}, {16, 8, 1024, 64, "causal"},
      {1, 32, 32768, 64, "causal"}, {2, 32, 4096, 128, "full"},    {1, 16, 65536, 128, "causal"},
      {4, 64, 2048, 64, "full"},    {1, 8, 512, 128, "full"},      {8, 8, 8192, 128, "causal"},
      {16, 64, 1024, 128, "causal"}, {1, 32, 131072, 128, "causal"}};
  return shapes;
}

bool IsHeldOut(const CoverageShape& s) {
  const std::vector<CoverageShape>& h = HeldOutShapes();
  return std::find(h.begin(), h.end(), s) != h.end();
}

std::vector<CoverageShape> CoverageShapes(const PlanOptions& o) {
  std::vector<CoverageShape> shapes;
  if (!o.coverage) return shapes;
  const std::vector<std::pair<int, int>> batch_heads = {{1, 8}, {2, 16}, {1, 64}, {4, 32}, {8, 32}, {16, 64}};
  const std::vector<int> dims = o.quick ? std::vector<int>{128} : std::vector<int>{64, 128};
  for (int d : dims)
    for (const char* mask : {"causal", "full"})
      for (auto [b, h] : batch_heads)
        for (int64_t s = 512; s <= (o.quick ? 4096 : 65536); s *= 2) {
          const CoverageShape shape{b, h, s, d, mask};
          const KernelCase backward{"backward", mask, d, h, h, b, s, s, 0, "coverage"};
          if (double(b) * h * double(s) * double(s) > o.coverage_max_pairs || IsHeldOut(shape) ||
              backward.DeviceBytes() > o.max_block_bytes)
            continue;
          shapes.push_back(shape);
        }
  return shapes;
}

double CaseSeconds(const KernelCase& c, double tflops, int launches) {
  const double flops = 4.0 * c.head_dim * c.Pairs() * c.heads * c.batch * (c.pass == "forward" ? 1 : 2.5);
  return flops / (tflops * 1e12) * launches;
}

double SdpaSeconds(const CoverageShape& s, double tflops, int warmup, int iters) {
  const double pairs = double(s.seq) * double(s.seq) / (s.mask == "causal" ? 2 : 1);
  const double forward = 4.0 * s.head_dim * pairs * s.heads * s.batch / (tflops * 1e12);
  return (warmup + iters) * (forward + 3.5 * forward);
}

std::vector<KernelCase> KernelPlan(const PlanOptions& o) {
  std::vector<KernelCase> plan;
  const std::vector<int> dims = o.quick ? std::vector<int>{128} : std::vector<int>{64, 128};
  const std::vector<int64_t> lengths = o.quick ? std::vector<int64_t>{512, 4096, 32768}
                                               : std::vector<int64_t>{512, 1024, 2048, 4096, 8192, 16384, 32768};
  // Never a held-out shape (a whole square problem that bench/kernels/heldout_shapes.txt lists), whatever the sweep.
  auto add = [&](KernelCase c) {
    const bool held_out = c.q == c.kv && c.diagonal_offset == 0 && c.heads == c.kv_heads &&
                          IsHeldOut({c.batch, c.heads, c.q, c.head_dim, c.mask});
    if (c.DeviceBytes() <= o.max_block_bytes && !held_out) plan.push_back(c);
  };
  for (const char* pass : {"forward", "backward"}) {
    const bool fwd = std::string(pass) == "forward";
    for (int d : dims) {
      // Tile sweep: 8192 rows (forward) or keys (backward) of 32 heads = 64-128 CTAs per head, several full rounds;
      // the loop runs over the other side's length.
      for (int64_t len : lengths) {
        KernelCase c{pass, "full", d, 32, 32, 1, fwd ? 8192 : len, fwd ? len : 8192, 0, "tile sweep"};
        add(c);
        if (!fwd) {  // the backward CTA loops over the query heads of its kv head too
          c.kv_heads = 8;
          c.why = "gqa";
          add(c);
        }
      }
      // CTA sweep: one loop length, CTA counts from half a round to about four rounds of a 132-SM GPU (scaled to the
      // device's SMs: heads x 64 tiles of 128, or 32 heads x a shorter grid side).
      const int64_t grid_side_per_head = 64 * 128;  // 64 CTAs per head
      for (int h : {1, 2, 3, 4, 6, 8, 12, 16}) {
        const int heads = std::max(1, int(std::lround(h * o.sms / 132.0)));
        add({pass, "full", d, heads, heads, 1, fwd ? grid_side_per_head : 4096, fwd ? 4096 : grid_side_per_head, 0,
             "cta sweep"});
      }
      for (int64_t side : {2048, 3072, 6144, 10240, 14336}) {
        const int64_t s = side * o.sms / 132 / 128 * 128;
        add({pass, "full", d, 16, 16, 1, fwd ? std::max<int64_t>(s, 128) : 4096, fwd ? 4096 : std::max<int64_t>(s, 128),
             0, "cta sweep"});
      }
      // Causal: square blocks at 8 and 32 heads (and GQA 4:1 for the backward).
      for (int64_t s : o.quick ? std::vector<int64_t>{2048, 16384} : std::vector<int64_t>{1024, 2048, 4096, 8192, 16384, 32768})
        for (int h : {8, 32}) {
          add({pass, "causal", d, h, h, 1, s, s, 0, "causal"});
          if (!fwd) add({pass, "causal", d, h, h / 4, 1, s, s, 0, "causal gqa"});
        }
    }
  }
  // Coverage: whole problems, forward and backward of each (GQA is the tile sweep's job).
  for (const CoverageShape& s : CoverageShapes(o))
    for (const char* pass : {"forward", "backward"})
      add({pass, s.mask, s.head_dim, s.heads, s.heads, s.batch, s.seq, s.seq, 0, "coverage"});
  return plan;
}

std::vector<int64_t> MessageSizes(bool quick) {
  if (quick) return {int64_t(4) << 20, int64_t(64) << 20};
  return {int64_t(1) << 20, int64_t(4) << 20, int64_t(16) << 20, int64_t(64) << 20, int64_t(256) << 20};
}

std::vector<CommCase> CommPlan(int gpus, bool quick) {
  std::vector<CommCase> plan;
  if (gpus < 2) return plan;
  const std::vector<int64_t> sizes = MessageSizes(quick);
  for (int64_t b : sizes) plan.push_back({"pair", 2, b, b});
  if (gpus > 2)
    for (int64_t b : sizes) plan.push_back({"ring", gpus, b, b});
  for (int64_t b : sizes) plan.push_back({"all-gather", gpus, b, b * (gpus - 1)});
  for (int64_t b : sizes) plan.push_back({"alltoall", gpus, std::max<int64_t>(1, b / (gpus - 1)), b});
  return plan;
}

KernelSample ToSample(const KernelCase& c, const std::vector<double>& times_us) {
  KernelSample s;
  s.pass = c.pass;
  s.mask = c.mask;
  s.head_dim = c.head_dim;
  s.batch = c.batch;
  s.heads = c.heads;
  s.kv_heads = c.kv_heads;
  s.q = c.q;
  s.kv = c.kv;
  s.diagonal_offset = c.diagonal_offset;
  s.pairs = c.Pairs();
  s.us = MedianOf(times_us);
  s.mode = c.pass == "forward" ? "merge" : "";
  return s;
}

}  // namespace ringlab::calibrate
