// The kernel wave model: an attention kernel's time from its CTAs, the SMs' slots and the cost of one round of CTAs
// (full rounds, a last partial round, causal blocks list-scheduled CTA by CTA, the moment a slot first goes idle, the
// round NCCL's kernel displaces, and a kernel launched while NCCL held some slots). A profile's attention table
// (profile.h) carries one as data; the cost model (cost_model.h) and the engine ask it for kernel times.
//
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace ringlab::sim {

// Kernel wave model (replaces an attention table's `points` when present): the kernel runs N CTAs, each looping over
// n tiles;
//   grid "q"  (forward):  N = B·h·ceil(q/tile_q),    n = ceil(kv/tile_kv)·pairs/(q·kv)
//   grid "kv" (backward): N = B·hkv·ceil(kv/tile_kv), n = ceil(q/tile_q)·(H/Hkv)·pairs/(q·kv)
// (h, hkv: the heads of the op, from its FLOPs). With S = sms·ctas_per_sm slots, each full round of S CTAs costs
// ctas_per_sm·(n + cta_overhead_tiles)·tile_us; a last partial round of r CTAs puts m = ceil(r/sms) on an SM and costs
// m·(n + overhead)·tile_us / θ_m, θ_m = single_resident_throughput + (1 − it)·(m − 1)/(ctas_per_sm − 1) (1 if m ≥ k).
// With a measured round table (`round_us`, from `ringlab calibrate` microbenchmarks or a trace fit), the cost of one
// full round is read from the table instead of ctas_per_sm·(n + overhead)·tile_us: R(n) is interpolated linearly in
// (log n, log R) between measured points; outside them it follows R = a + b·n (a fixed cost per CTA plus a steady
// cost per tile) through the nearest end segment, with a in [0, R(end)]: a longer loop never runs faster per tile
// than the table's end says, and a shorter one never costs more. A partial round then costs m·R(n) / (ctas_per_sm·θ_m).
// This is what lets large-S blocks be predicted from block-level measurements instead of a line fitted at one block
// size.
//
// CTA cost form (`cost`, JSON "wave.cost"; replaces the round table when present): a CTA holds its slot for
//   cta_us + tile_us·(tiles it loops over) + masked_tile_us·(those of them that straddle the causal diagonal)
// and a kernel takes kernel_us (launch latency, first loads, drain) + the time its last slot frees. Fitted per
// (pass, head dim, forward mode) on single-GPU samples by calibrate/scripts/kernel_model_fit.py (its Python twin:
// calibrate/scripts/cta_model.py). Its time grows with every CTA and tile, in whole and partial rounds: it follows
// the launch's parallelism (batch × heads × tiles against the SMs' slots), not a rate per block size.
//
// Load clock (JSON "load_knee", "load_slowdown"; both 0 by default, which is the form without it): timed back to back,
// an H100 holds its 700 W cap by lowering the SM clock, and how far depends on how much of the GPU the kernel keeps
// busy: a launch of fewer CTAs than slots, or a causal one whose light CTAs leave slots idle in its tail, draws less
// power and runs at a higher clock (and its CTAs share HBM and L2 with fewer others). With load = the CTAs' summed
// slot time / (slots · M), M the last slot's end at the clock of a lightly loaded GPU, the busy time is
//   B = M · (1 + load_slowdown · max(0, load − load_knee)).
// Power cap (JSON "capped_after_us", "capped_slowdown"; both 0 by default): an H100 under a long kernel after an idle
// GPU reaches its 700 W cap and its SM clock falls (1965 -> ~1600 MHz in the coverage calls' clocks.csv), so the part
// of that busy time past `capped_after_us` runs `capped_slowdown` slower:
//   kernel time = kernel_us + B + capped_slowdown · max(0, B − capped_after_us).
// Short kernels (the burst coverage's timed launches leave the GPU idle between them) keep the boost clock.
//
// Masked kernels (JSON "masked": {"cta_us", "tile_us", "edge_tile_us", "persistent"}; absent: the terms above, and the
// simulator counts the block as extrapolated): a block that documents or a window leave partly visible runs the masked
// kernels. Each of their CTAs (or, persistent, each query tile a CTA walks) holds its slot for
//   masked_cta_us + masked_tile_us'·(tiles the mask touches) + edge_tile_us·(of them partly visible)
// (a masked tile is masked in registers by document and position, the causal diagonal among them). Persistent (our
// masked forward, kernels/cuda/attention_forward_ws.cu): min(slots, query tiles) CTAs, each taking the next query tile
// of the launch order from a counter when it frees; each also pays cta_us once (its first loads and pipeline fill),
// and the kernel ends with its slowest CTA (WaveModel::PersistentKernelUs). Fitted on measured masked
// kernels by calibrate/scripts/masked_cost_fit.py.
struct CtaCost {
  bool enabled = false;
  double kernel_us = 0, cta_us = 0, tile_us = 0, masked_tile_us = 0;
  double load_knee = 0, load_slowdown = 0;
  double capped_after_us = 0, capped_slowdown = 0;
  bool masked_fitted = false, masked_persistent = false;
  double masked_cta_us = 0, masked_whole_tile_us = 0, edge_tile_us = 0;  // masked_tile_us' above: masked_whole_tile_us
  // How long a CTA of `tiles` tiles, `masked` of them on the diagonal, holds its slot.
  double CtaUs(double tiles, double masked) const { return cta_us + tile_us * tiles + masked_tile_us * masked; }
  // The cost form of the masked kernels (itself where they are not fitted): CtaUs's `masked` are then the partly
  // visible tiles.
  CtaCost ForMaskedKernels() const {
    CtaCost c = *this;
    if (masked_fitted) c.cta_us = masked_cta_us, c.tile_us = masked_whole_tile_us, c.masked_tile_us = edge_tile_us;
    return c;
  }
  // The SMs' busy time `busy_us` (the last slot's end, M above) at the clock that the launch's `load` (in [0, 1]) and
  // the power cap allow (itself with neither: both slowdowns are 0).
  double ClockedUs(double busy_us, double load) const {
    const double loaded = busy_us * (1 + load_slowdown * std::max(0.0, load - load_knee));
    return loaded + capped_slowdown * std::max(0.0, loaded - capped_after_us);
  }
  // The mean slowdown ClockedUs gives a kernel (1 without either term): what its rounds and first idle slot stretch
  // by where the engine times them one by one (NCCL beside the kernel).
  double ClockFactor(double busy_us, double load) const {
    return enabled && busy_us > 0 ? ClockedUs(busy_us, load) / busy_us : 1.0;
  }
};

struct WaveModel {
  bool enabled = false;
  bool grid_kv = false;  // false: grid over (heads, q tiles); true: over (kv heads, kv tiles)
  int tile_q = 128, tile_kv = 64, sms = 132, ctas_per_sm = 1;
  double tile_us = 0, cta_overhead_tiles = 0, single_resident_throughput = 1;
  std::vector<std::pair<double, double>> round_us;  // (tiles per CTA n, µs of one full round), increasing n; optional
  CtaCost cost;  // optional; replaces round_us and tile_us when enabled
  // Launch order of a causal block's CTAs within a head (JSON "order"): heaviest first (false: kernels/cuda's forward
  // launches its last query tile first; a backward's first key tile is its heaviest) or lightest first (true:
  // FlashAttention-2's forward takes query tile blockIdx.x in order, so its heaviest CTAs come last).
  bool light_first = false;
  // How a kv-grid (backward) kernel covers a key block's GQA group of query heads:
  //  kWhole  one CTA walks the whole group (the default);
  //  kSplit  JSON "split_group": the group is split over CTAs where the B·hkv·key-tile CTAs leave SMs idle
  //          (kernels/cuda/attention_tiles.h BackwardGroupSplits, our backward kernels);
  //  kExpand JSON "expand_group": a CTA per query head, B·H·key-tile CTAs in all, as FlashAttention-2 does for GQA
  //          (PyTorch's FLASH backward: dK/dV per query head into expanded buffers, summed over the group afterwards;
  //          the sum's cost is CostModel's).
  // The `group` the functions below take is then the query heads one CTA walks (GroupPerCta), not H/Hkv.
  enum class GroupWalk { kWhole, kSplit, kExpand };
  GroupWalk group_walk = GroupWalk::kWhole;
  // The query heads one CTA walks: `group` (= H/Hkv), its share with kSplit, 1 with kExpand.
  // `causal`: the block's CTAs are unequal (BackwardGroupSplits' rule for them).
  double GroupPerCta(int64_t q, int64_t kv, double h, int batch, double group, bool causal) const;
  // The per-kernel fixed time of the cost form (0 without it).
  double KernelFixedUs() const { return cost.enabled ? cost.kernel_us : 0; }
  // Cost in microseconds of one full round (every slot busy) of CTAs that each loop over n tiles.
  double RoundUs(double n) const;
  // CTAs and tiles per CTA of a block (see above), and the number of full-round equivalents `ctas` CTAs take:
  // full rounds + m / (ctas_per_sm·θ_m) for a last partial round. KernelUs = EffectiveRounds(CTAs) · RoundUs(n).
  double Ctas(int64_t q, int64_t kv, double h, int batch, double group) const;
  double TilesPerCta(int64_t q, int64_t kv, double pairs, double group) const;
  double EffectiveRounds(double ctas) const;
  // The load of `ctas` equal CTAs (CtaCost): ctas / (slots · EffectiveRounds(ctas)), at most 1.
  double EqualLoad(double ctas) const;
  // Kernel time in microseconds (no launch): EffectiveRounds(CTAs)·RoundUs(n). A block with q×kv tokens, `pairs`
  // allowed pairs, h query heads, batch b, `group` = H/Hkv query heads per kv head.
  double KernelUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group) const;
  // A causal block (query row i sees key j iff j <= i + diagonal_offset): its CTAs loop over unequal numbers of tiles,
  // heaviest first within a head (as kernels/cuda launches them), and the block scheduler hands each CTA to the first
  // free slot. Each CTA holds its slot for RoundUs(its tiles); the kernel time is the last slot's end (list
  // scheduling in launch order). With more than 16 rounds the unequal loops average out and EffectiveRounds ·
  // RoundUs(mean tiles) is used instead (and keeps the cost of huge blocks O(1)).
  // `first_idle_us` (optional): when the first slot goes idle with no CTA left to hand out (FirstIdleUs).
  // With the CTA cost form each CTA holds its slot for cost.CtaUs(its tiles, its diagonal tiles), CTAs with no tile
  // are not counted, and kernel_us is added.
  double CausalKernelUs(int64_t q, int64_t kv, int64_t diagonal_offset, double h, int batch, double group,
                        double* first_idle_us = nullptr) const;
  // Per CTA of one (batch, head) grid row of a causal block, in launch order: (tiles, tiles on the diagonal).
  std::vector<std::pair<double, double>> CausalWork(int64_t q, int64_t kv, int64_t diagonal_offset,
                                                    double group) const;
  // A block of `work` (per CTA of one grid row, in launch order: tiles it loops over, tiles partly masked; e.g. a
  // window or documents, sim/masked_work.h) list-scheduled as CausalKernelUs does with CausalWork's.
  double ListedKernelUs(const std::vector<std::pair<double, double>>& work, int64_t q, int64_t kv, double h, int batch,
                        double group, double* first_idle_us = nullptr) const;
  // The same block run by a persistent kernel (CtaCost::masked_persistent): min(slots, items) CTAs; the items of
  // `work` repeated for every grid row, in launch order, go to CTAs 0, 1, ... and then each to the CTA that frees first
  // (the kernel's tile counter), each item at cost.CtaUs and every CTA that walks one also `startup_us` once; the
  // kernel ends with its slowest CTA (under the clock terms). `first_idle_us`: the first CTA's end. With more than 16
  // items per CTA their mean is used (O(work) then).
  double PersistentKernelUs(const std::vector<std::pair<double, double>>& work, int64_t q, int64_t kv, double h,
                            int batch, double group, double startup_us, double* first_idle_us = nullptr) const;
  // With the CTA cost form's load clock or power cap, FirstIdleUs, DisplacedTailUs and CausalKernelUs's first idle
  // instant are stretched by the kernel's ClockFactor (they slow every round alike on average).
  // When, after the kernel's start, a slot first goes idle with no CTA of the kernel left to hand out: the moment
  // another kernel (NCCL's, posted on another stream while this one runs) gets an SM. Equal CTAs: the start of the
  // last, partial round (full rounds · RoundUs(n)), or the kernel's end when the last round is full; 0 with fewer
  // CTAs than slots.
  double FirstIdleUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group) const;
  // Equal CTAs (a full-mask block), whose last, partial round starts on every slot at once: a transfer posted before
  // that instant has its NCCL kernel pending, and when the slots free together NCCL's kernel takes `nccl_sms` of them;
  // the last round's CTAs that no longer fit run one round later.
  // The extra kernel time in microseconds (RoundUs(n)), or 0 when the last round fits beside NCCL.
  double DisplacedTailUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group, int nccl_sms) const;
};

// A kernel of `ctas` equal CTAs (`round` each) launched on `slots` slots while another kernel (NCCL's) held
// `held_slots` of them, until `held` after the launch: its duration by list scheduling. CTAs that find no slot start
// when one frees, at the end of a round or when NCCL leaves; a rate (the engine's model while NCCL stays) cannot
// express that for a kernel of a few rounds. E.g. 5 CTAs, 4 slots, 1 held until 15, round 10: 3 run 0-10, 2 run 10-20.
// Times in any one unit (the engine uses picoseconds).
int64_t HeldSlotsMakespan(int64_t ctas, int slots, int held_slots, int64_t round, int64_t held);

}  // namespace ringlab::sim
