#include "calibrate/calibration_plan.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>
#include <tuple>

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
  std::string line = std::to_string(batch) + " " + std::to_string(heads) + " " + std::to_string(seq) + " " +
                     std::to_string(head_dim) + " " + mask;
  if (KvHeads() != heads) {  // GQA: the Hkv column
    line += ' ';
    line += std::to_string(KvHeads());
  }
  return line;
}

const std::vector<CoverageShape>& HeldOutShapes() {
  static const std::vector<CoverageShape> shapes = {
      {8, 32, 2048, 128, "causal"}, {1, 8, 4096, 128, "causal"},   {2, 16, 8192, 64, "full"},
      {4, 16, 8192, 128, "full"},   {1, 64, 16384, 128, "causal"}, {16, 8, 1024, 64, "causal"},
      {1, 32, 32768, 64, "causal"}, {2, 32, 4096, 128, "full"},    {1, 16, 65536, 128, "causal"},
      {4, 64, 2048, 64, "full"},    {1, 8, 512, 128, "full"},      {8, 8, 8192, 128, "causal"},
      {16, 64, 1024, 128, "causal"}, {1, 32, 131072, 128, "causal"},
      // bench/kernels/heldout_shapes_gqa.txt
      {1, 8, 4096, 128, "causal", 1},  {2, 32, 8192, 64, "causal", 4},   {4, 64, 2048, 128, "full", 8},
      {1, 64, 32768, 128, "causal", 8}, {8, 16, 4096, 128, "causal", 2}, {1, 16, 8192, 64, "full", 1},
      {2, 8, 16384, 128, "causal", 2}, {1, 32, 65536, 128, "causal", 8}, {4, 32, 4096, 128, "causal", 4},
      // bench/kernels/heldout_shapes_random.txt
      {12, 48, 1472, 64, "causal", 24}, {4, 16, 7464, 256, "causal"}, {1, 24, 8104, 128, "full", 3},
      {1, 32, 46280, 256, "causal", 16}, {3, 24, 1336, 256, "causal", 6}, {1, 12, 69355, 128, "causal", 2},
      {2, 24, 1792, 256, "causal", 4}, {6, 6, 4776, 256, "causal"}, {6, 48, 1039, 128, "full", 6},
      {1, 48, 31488, 128, "causal", 16}, {2, 6, 8192, 64, "causal", 2}, {2, 8, 5616, 128, "full", 2},
      {2, 8, 30352, 128, "causal", 1}, {6, 48, 3746, 128, "causal", 16}, {8, 6, 18360, 128, "causal", 3},
      {1, 12, 16384, 256, "full", 2}, {1, 24, 6544, 128, "full"}, {2, 32, 1240, 128, "full", 16}};
  return shapes;
}

bool IsHeldOut(const CoverageShape& s) {
  const std::vector<CoverageShape>& h = HeldOutShapes();
  return std::find(h.begin(), h.end(), s) != h.end();
}

Status ParseHeadDims(const std::string& text, const std::string& flag, std::vector<int>* dims) {
  std::string allowed;
  for (int d : kPlanHeadDims) allowed += (allowed.empty() ? "" : ", ") + std::to_string(d);
  const Status bad = Status::InvalidArgument(
      flag + " '" + text + "': a comma-separated list of head dims, each one of " + allowed + " (once)");
  std::vector<int> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    // Digits without a leading zero, as the CLI's integer lists ("0064" was read as 64).
    if (item.empty() || item.size() > 4 || item[0] == '0' ||
        !std::all_of(item.begin(), item.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad;
    const int d = std::stoi(item);
    if (std::find(std::begin(kPlanHeadDims), std::end(kPlanHeadDims), d) == std::end(kPlanHeadDims) ||
        std::find(out.begin(), out.end(), d) != out.end())
      return bad;
    out.push_back(d);
    begin = end + 1;
  }
  *dims = out;
  return Status::Ok();
}

namespace {

bool Wants(const PlanOptions& o, int d) {
  return std::find(o.head_dims.begin(), o.head_dims.end(), d) != o.head_dims.end();
}

// The head dims a plan measures: options.head_dims in kPlanHeadDims order; a quick plan one of them (128 if asked).
std::vector<int> PlanDims(const PlanOptions& o) {
  std::vector<int> dims;
  for (int d : kPlanHeadDims)
    if (Wants(o, d)) dims.push_back(d);
  if (o.quick && dims.size() > 1) dims = {Wants(o, 128) ? 128 : dims.front()};
  return dims;
}

// The coverage grid of one head dim: (batch×heads, sequence lengths, pair cap).
struct CoverageGrid {
  std::vector<std::pair<int, int>> batch_heads;
  std::vector<int64_t> seqs;
  double max_pairs = 0;
  // GQA problems (batch, heads, kv heads) over gqa_seqs: the backward's grid runs over kv heads, so a group of 8 on one
  // kv head is the under-filled grid that our kernels split and FlashAttention-2 expands (sim/wave_model.h).
  std::vector<std::tuple<int, int, int>> gqa;
  std::vector<int64_t> gqa_seqs;
};

CoverageGrid GridFor(int d, const PlanOptions& o) {
  CoverageGrid g;
  if (d != 256) {
    g.batch_heads = {{1, 8}, {2, 16}, {1, 64}, {4, 32}, {8, 32}, {16, 64}};
    for (int64_t s = 512; s <= 65536; s *= 2) g.seqs.push_back(s);
    g.max_pairs = o.coverage_max_pairs;
    g.gqa = {{1, 8, 1}, {1, 32, 8}, {2, 64, 8}};
    g.gqa_seqs = {1024, 4096, 16384};
  } else {
    // D=256 costs twice D=128's FLOPs per (query, key) pair, and the fit needs fewer points there (the CTA cost model
    // has four parameters per pass and mode: the grid is to span the CTA counts and tiles per CTA a user lands on, not
    // to tabulate). So: the two ends of batch×heads (1×8 and 16×64: the fewest and the most CTAs; 16×64 stops at
    // S=1024, its S=2048 block needs over 8 GiB) and two between (2×16, 4×32: partial rounds and a few rounds), S from
    // 512 (one to four tiles per CTA) in factors of 2 up to 16384 and a quarter of D=128's pair cap. Its FLOPs are 30%
    // of the D=128 coverage's (`ringlab calibrate --dry-run --head-dims 128,256` prints both times; the test
    // CalibrationPlan.HeadDim256CoverageIsModest keeps it under 40%).
    g.batch_heads = {{1, 8}, {2, 16}, {4, 32}, {16, 64}};
    for (int64_t s = 512; s <= 16384; s *= 2) g.seqs.push_back(s);
    g.max_pairs = o.coverage_max_pairs / 4;
  }
  if (o.quick) std::erase_if(g.seqs, [](int64_t s) { return s > 4096; });
  return g;
}

}  // namespace

std::vector<CoverageShape> CoverageShapes(const PlanOptions& o) {
  std::vector<CoverageShape> shapes;
  if (!o.coverage) return shapes;
  for (int d : PlanDims(o)) {
    const CoverageGrid g = GridFor(d, o);
    auto add = [&](const CoverageShape& shape) {
      const int b = shape.batch, h = shape.heads;
      const int64_t s = shape.seq;
      const KernelCase backward{"backward", shape.mask, d, h, shape.KvHeads(), b, s, s, 0, "coverage"};
      if (double(b) * h * double(s) * double(s) > g.max_pairs || IsHeldOut(shape) ||
          backward.DeviceBytes() > o.max_block_bytes)
        return;
      shapes.push_back(shape);
    };
    for (const char* mask : {"causal", "full"}) {
      for (auto [b, h] : g.batch_heads)
        for (int64_t s : g.seqs) add({b, h, s, d, mask});
      for (auto [b, h, kv] : g.gqa)
        for (int64_t s : g.gqa_seqs) add({b, h, s, d, mask, kv});
    }
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
  // Loop lengths of the tile sweep and sides of the causal sweep. D=256 (twice the FLOPs a pair) in factors of 4 over
  // the same span: its CTA cost model needs the ends and a few points between, not a table.
  auto lengths = [&](int d) {
    if (o.quick) return std::vector<int64_t>{512, 4096, 32768};
    if (d == 256) return std::vector<int64_t>{512, 2048, 8192, 32768};
    return std::vector<int64_t>{512, 1024, 2048, 4096, 8192, 16384, 32768};
  };
  auto causal_sides = [&](int d) {
    if (o.quick) return std::vector<int64_t>{2048, 16384};
    if (d == 256) return std::vector<int64_t>{1024, 4096, 16384};
    return std::vector<int64_t>{1024, 2048, 4096, 8192, 16384, 32768};
  };
  // Never a held-out shape (a whole square problem that bench/kernels/heldout_shapes*.txt list), whatever the sweep.
  auto add = [&](KernelCase c) {
    const bool held_out =
        c.q == c.kv && c.diagonal_offset == 0 && IsHeldOut({c.batch, c.heads, c.q, c.head_dim, c.mask, c.kv_heads});
    if (c.DeviceBytes() <= o.max_block_bytes && !held_out) plan.push_back(c);
  };
  for (const char* pass : {"forward", "backward"}) {
    const bool fwd = std::string(pass) == "forward";
    for (int d : PlanDims(o)) {
      // Tile sweep: 8192 rows (forward) or keys (backward) of 32 heads = 64-128 CTAs per head, several full rounds;
      // the loop runs over the other side's length.
      for (int64_t len : lengths(d)) {
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
      for (int64_t s : causal_sides(d))
        for (int h : {8, 32}) {
          add({pass, "causal", d, h, h, 1, s, s, 0, "causal"});
          if (!fwd) add({pass, "causal", d, h, h / 4, 1, s, s, 0, "causal gqa"});
        }
    }
  }
  // Coverage: whole problems, forward and backward of each (GQA is the tile sweep's job).
  for (const CoverageShape& s : CoverageShapes(o))
    for (const char* pass : {"forward", "backward"})
      add({pass, s.mask, s.head_dim, s.heads, s.KvHeads(), s.batch, s.seq, s.seq, 0, "coverage"});
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
