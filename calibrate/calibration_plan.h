// What `ringlab calibrate` measures, and how raw timings become fit samples. Plain C++ (no CUDA, no simulator), so the
// plan and the aggregation are tested on any machine; calibrate/microbench runs the plan on GPUs.
//
// The kernel plan is chosen for the simulator's kernel model (sim/wave_model.h), per pass, head dim and mask:
//   tile sweep    many full rounds of CTAs (32 heads) while the loop length n = tiles per CTA goes 8..512: the
//                 round table R(n);
//   CTA sweep     one n, CTA counts from half a round to four rounds (heads 1..32 and two block lengths): the CTAs
//                 per SM and the partial-round throughput;
//   GQA           the backward loops over the query heads of its kv head: the tile sweep again at 4 query heads per
//                 kv head;
//   causal        square causal blocks 1K..32K at 8 and 32 heads (list scheduling of unequal CTAs);
//   coverage      whole single-GPU attention problems B×H×S×S (CoverageShapes): batch×heads 1×8 .. 16×64, S from 512,
//                 head dims 64, 128 and 256 (256: a sparser grid, see CoverageShapes), causal and full, the shapes a
//                 user's configuration lands on (and, timed with
//                 PyTorch SDPA over the same list by calibrate/device/kernel_coverage.sh, the peer profile's tables).
//                 The held-out shapes of bench/kernels/heldout_shapes.txt (HeldOutShapes) are never in the plan, in
//                 no sweep (the causal sweep's 1×8×4096 D=128 and 1×32×32768 D=64 were, before 2026-12).
// Blocks stay under `max_block_bytes` of device memory each (inputs, accumulators, gradients).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calibrate/samples.h"
#include "core/status.h"

namespace ringlab::calibrate {

struct KernelCase {
  std::string pass, mask;  // forward|backward, full|causal
  int head_dim = 128, heads = 32, kv_heads = 32, batch = 1;
  int64_t q = 0, kv = 0;
  int64_t diagonal_offset = 0;
  std::string why;  // tile sweep | cta sweep | gqa | causal
  // Device bytes the benchmark allocates for this block (bf16 inputs, float32 accumulators and gradients).
  int64_t DeviceBytes() const;
  // (query, key) pairs the mask allows, diagonal pairs counted half (core's AttendBlock::EffectivePairs).
  double Pairs() const;
};

struct PlanOptions {
  int sms = 132;
  bool quick = false;                        // fewer shapes (a smoke run): one head dim, coarser sweeps
  int64_t max_block_bytes = int64_t(8) << 30;
  bool coverage = true;                      // add the coverage shapes (CoverageShapes)
  // Largest coverage problem, in B·H·S² (query, key) pairs of all heads: keeps the coverage within about a minute
  // of kernel time on an H100 (16×64 heads reach S=8192, 1×8 heads S=65536).
  double coverage_max_pairs = double(int64_t(1) << 35);
  // Head dims to measure (`ringlab calibrate --head-dims`): any of kPlanHeadDims, so that one call can measure only
  // the head dim a profile lacks and calibrate/scripts/merge_head_dim.py adds it to the profile.
  std::vector<int> head_dims = {64, 128, 256};
};

// The head dims the kernels take, and so the plan's (kernels/cuda/attention_kernels.h: 256 in the ws kernels).
inline constexpr int kPlanHeadDims[] = {64, 128, 256};
// "64,128,256" -> {64, 128, 256}: each in kPlanHeadDims, none twice, at least one. InvalidArgument naming `flag` and
// the allowed values otherwise.
Status ParseHeadDims(const std::string& text, const std::string& flag, std::vector<int>* dims);

// One single-GPU attention problem: B sequences of S tokens, H heads of dim D (kv_heads of them for K/V: grouped-query
// attention when fewer; 0 means H), the whole S×S block (diagonal offset 0 when causal). The same line format as
// bench/kernels/heldout_shapes.txt: "B H S D mask", and " Hkv" after it for GQA (heldout_shapes_gqa.txt).
struct CoverageShape {
  int batch = 1, heads = 8;
  int64_t seq = 512;
  int head_dim = 128;
  std::string mask = "causal";
  int kv_heads = 0;
  int KvHeads() const { return kv_heads > 0 ? kv_heads : heads; }
  std::string Line() const;
  // Equal problems (kv_heads 0 and H are the same).
  bool operator==(const CoverageShape& o) const {
    return batch == o.batch && heads == o.heads && seq == o.seq && head_dim == o.head_dim && mask == o.mask &&
           KvHeads() == o.KvHeads();
  }
};

// The held-out shapes (bench/kernels/heldout_shapes.txt and heldout_shapes_gqa.txt, fixed before they were measured;
// a test keeps them equal to the files): no plan and no fit uses them.
const std::vector<CoverageShape>& HeldOutShapes();
bool IsHeldOut(const CoverageShape& s);

// The coverage grid, per head dim of options.head_dims: D 64 and 128 batch×heads {1×8, 2×16, 1×64, 4×32, 8×32, 16×64}
// × S {512 .. 65536} × {causal, full}, and GQA batch×heads/kv heads {1×8/1, 1×32/8, 2×64/8} × S {1024, 4096, 16384}
// × {causal, full}; D 256 a sparser grid with the same ends (see the .cc); minus the held-out
// shapes, the problems over coverage_max_pairs and those over max_block_bytes. Empty when !options.coverage; a quick
// plan keeps one head dim (128 if asked for) and S ≤ 4096.
std::vector<CoverageShape> CoverageShapes(const PlanOptions& options);

std::vector<KernelCase> KernelPlan(const PlanOptions& options);

// Seconds of GPU time a case costs at `tflops` (forward, backward: 2.5x the forward FLOPs), for `launches` launches.
double CaseSeconds(const KernelCase& c, double tflops, int launches);
// Seconds PyTorch SDPA needs for a coverage shape with one backend: `warmup + iters` forward calls and as many
// forward+backward calls (bench/peer/peer_bench.py sdpa), at `tflops`.
double SdpaSeconds(const CoverageShape& s, double tflops, int warmup, int iters);
// Point-to-point and all-gather message sizes in bytes (per rank for the all-gather).
std::vector<int64_t> MessageSizes(bool quick);

// One NCCL measurement of the plan, and the bytes its sample records: pair | ring (a message), all-gather (what each
// rank receives), alltoall (what each member sends to the other ranks in all: the Ulysses op's bytes, the key of the
// profile's network.alltoall_time_us; grouped send/recv of bytes / (ranks − 1) to every other member).
struct CommCase {
  std::string pattern;  // pair | ring | all-gather | alltoall
  int ranks = 2;
  int64_t message_bytes = 0;  // what one send carries (all-gather: one rank's chunk)
  int64_t sample_bytes = 0;
};
// The NCCL plan on `gpus` GPUs of one node (MessageSizes each): pair, ring (3+ GPUs), all-gather, all-to-all among all
// of them. Empty below 2 GPUs (a 1-GPU calibration keeps the base profile's network numbers, and all-to-all costs stay
// extrapolated).
std::vector<CommCase> CommPlan(int gpus, bool quick);

// The fit sample of a case from its timed repetitions (median); a forward case's mode is "merge" (set "overwrite"
// for the other timing).
KernelSample ToSample(const KernelCase& c, const std::vector<double>& times_us);

}  // namespace ringlab::calibrate
