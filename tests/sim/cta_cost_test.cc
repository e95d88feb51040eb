// The CTA cost form of the kernel wave model (sim/wave_model.h: a fixed time per kernel, per CTA, per tile and per
// diagonal tile, list-scheduled on the SMs' slots): exact rounds and wave quantisation, the causal CTAs' tiles and
// diagonal tiles, monotone in work, its JSON, and the fitted bundled profiles (their single-GPU times follow the
// launch's parallelism; outside the measured tiles per CTA an op is counted as extrapolated).
#include <gtest/gtest.h>

#include <algorithm>

#include <fstream>
#include <string>

#include "sim/cost_model.h"
#include "sim/profile.h"
#include "sim/simulate.h"
#include "sim/wave_model.h"

namespace ringlab::sim {
namespace {

// A forward-like wave model: 132 SMs, one CTA each, 128x128 tiles.
WaveModel Forward() {
  WaveModel w;
  w.enabled = true;
  w.tile_q = w.tile_kv = 128;
  w.cost = {.enabled = true, .kernel_us = 5, .cta_us = 2, .tile_us = 1, .masked_tile_us = 0.5};
  return w;
}

TEST(CtaCost, FullBlockIsKernelTimePlusWholeRounds) {
  const WaveModel w = Forward();
  // 132 CTAs (B=1, h=33, 4 q tiles) of 8 key tiles: one round of 2 + 8 us.
  EXPECT_DOUBLE_EQ(w.KernelUs(512, 1024, 512.0 * 1024, 33, 1, 1), 5 + 10);
  // 264 CTAs: two rounds.
  EXPECT_DOUBLE_EQ(w.KernelUs(512, 1024, 512.0 * 1024, 66, 1, 1), 5 + 20);
}

TEST(CtaCost, OneMoreCtaThanSlotsCostsAWholeRound) {
  const WaveModel w = Forward();
  // 128-row blocks: one CTA per head. 132 heads fill the slots; 133 need a second round; 264 still two rounds.
  const double full = w.KernelUs(128, 1024, 128.0 * 1024, 132, 1, 1);
  const double one_more = w.KernelUs(128, 1024, 128.0 * 1024, 133, 1, 1);
  const double two = w.KernelUs(128, 1024, 128.0 * 1024, 264, 1, 1);
  EXPECT_DOUBLE_EQ(one_more - full, 10);
  EXPECT_DOUBLE_EQ(two, one_more);
  // Fewer CTAs than slots take the same round.
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 1024, 128.0 * 1024, 7, 1, 1), full);
}

TEST(CtaCost, CausalWorkCountsTilesAndDiagonalTiles) {
  const WaveModel fwd = Forward();
  // Two q tiles over two key tiles, offset 0: the last rows' CTA first (2 tiles, 1 on the diagonal), then 1 and 1.
  const auto f = fwd.CausalWork(256, 256, 0, 1);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], (std::pair<double, double>{2, 1}));
  EXPECT_EQ(f[1], (std::pair<double, double>{1, 1}));
  // FlashAttention-2's order: the lightest CTA first.
  WaveModel light = fwd;
  light.light_first = true;
  EXPECT_EQ(light.CausalWork(256, 256, 0, 1)[0], (std::pair<double, double>{1, 1}));
  // A later ring block (keys all before the rows: offset = kv): every tile whole.
  const auto past = fwd.CausalWork(256, 256, 256, 1);
  EXPECT_EQ(past[0], (std::pair<double, double>{2, 0}));
  // Backward: 64-row q tiles, 128-key CTAs. Keys 0..127 see q tiles 0..3, tiles 0 and 1 straddle the diagonal; keys
  // 128..255 see tiles 2 and 3, both straddling. GQA group 2 doubles both.
  WaveModel bwd = fwd;
  bwd.grid_kv = true;
  bwd.tile_q = 64;
  const auto b = bwd.CausalWork(256, 256, 0, 2);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0], (std::pair<double, double>{8, 4}));
  EXPECT_EQ(b[1], (std::pair<double, double>{4, 4}));
}

TEST(CtaCost, CausalListSchedulingUsesEachCtasCost) {
  const WaveModel w = Forward();
  // One head of two CTAs on 132 slots: they run side by side, the longer (2 + 2·1 + 0.5) decides.
  EXPECT_DOUBLE_EQ(w.CausalKernelUs(256, 256, 0, 1, 1, 1), 5 + 4.5);
  // A block no row can see costs nothing.
  EXPECT_DOUBLE_EQ(w.CausalKernelUs(256, 256, -1000, 1, 1, 1), 0);
}

// calibrate/scripts/cta_model.py fits the profiles with a Python twin of this model; these are its numbers for the
// same parameters (kernel 3, CTA 4, tile 1.5, diagonal tile 0.7 us): list-scheduled and mean-round causal blocks,
// forward and backward, GQA, ring-step diagonal offsets.
// The twin tests' models: forward 128x128 tiles, backward 64-row q tiles over 128-key CTAs.
WaveModel TwinModel(bool backward) {
  WaveModel w;
  w.enabled = true;
  w.tile_q = w.tile_kv = 128;
  w.cost = {.enabled = true, .kernel_us = 3, .cta_us = 4, .tile_us = 1.5, .masked_tile_us = 0.7};
  if (backward) w.grid_kv = true, w.tile_q = 64;
  return w;
}

TEST(CtaCost, AgreesWithThePythonTwinTheFitUses) {
  const WaveModel fwd = TwinModel(false), bwd = TwinModel(true);
  EXPECT_NEAR(fwd.CausalKernelUs(4096, 4096, 0, 8, 1, 1), 90.4, 1e-9);
  EXPECT_NEAR(bwd.CausalKernelUs(2048, 2048, 0, 16, 2, 4), 204.6, 1e-9);
  EXPECT_NEAR(fwd.CausalKernelUs(1024, 1024, 0, 64, 16, 1), 724.35, 1e-9);
  EXPECT_NEAR(fwd.CausalKernelUs(2048, 2048, 1024, 32, 1, 1), 115.7, 1e-9);
  EXPECT_NEAR(bwd.CausalKernelUs(4096, 4096, -512, 32, 1, 4), 511.8, 1e-9);
}

// The power cap: the SMs' busy time past capped_after_us runs capped_slowdown slower; a kernel that ends before it
// is untouched. Forward(): kernel 5 us, CTA 2 us, tile 1 us.
TEST(CtaCost, PowerCapSlowsOnlyTheBusyTimePastIt) {
  WaveModel w = Forward();
  w.cost.capped_after_us = 15;
  w.cost.capped_slowdown = 0.2;
  // One round (busy 10 us): before the cap. Two rounds (busy 20 us): 5 us past it run 20% slower.
  EXPECT_DOUBLE_EQ(w.KernelUs(512, 1024, 512.0 * 1024, 33, 1, 1), 5 + 10);
  EXPECT_DOUBLE_EQ(w.KernelUs(512, 1024, 512.0 * 1024, 66, 1, 1), 5 + 20 + 0.2 * 5);
  // A list-scheduled causal block (busy 4.5 us) with the cap at 4 us.
  w.cost.capped_after_us = 4;
  EXPECT_DOUBLE_EQ(w.CausalKernelUs(256, 256, 0, 1, 1, 1), 5 + 4.5 + 0.2 * 0.5);
  // The first idle slot (NCCL's way in) stretches by the kernel's mean cap factor: 264 one-tile-row CTAs of 10 us on
  // 132 slots are busy 20 us, capped 21 us (factor 1.05); 265 CTAs busy 30 us, capped 33 us (1.1), idle after 2 rounds.
  w.cost.capped_after_us = 15;
  EXPECT_DOUBLE_EQ(w.FirstIdleUs(128, 1024, 128.0 * 1024, 264, 1, 1), 20 * 1.05);
  EXPECT_DOUBLE_EQ(w.FirstIdleUs(128, 1024, 128.0 * 1024, 265, 1, 1), 20 * 1.1);
  // Without the fields (a profile from before the cap): the form without it.
  EXPECT_DOUBLE_EQ(Forward().KernelUs(512, 1024, 512.0 * 1024, 66, 1, 1), 5 + 20);
}

// The same parameters as AgreesWithThePythonTwinTheFitUses under a power cap: cta_model.capped() of the twin's
// predictions (list-scheduled forward, mean-round forward of 62 rounds, GQA backward; a cap past the kernel's end).
TEST(CtaCost, PowerCapAgreesWithThePythonTwin) {
  WaveModel fwd = TwinModel(false), bwd = TwinModel(true);
  fwd.cost.capped_after_us = 50, fwd.cost.capped_slowdown = 0.1;
  EXPECT_NEAR(fwd.CausalKernelUs(4096, 4096, 0, 8, 1, 1), 94.14, 1e-9);
  fwd.cost.capped_after_us = 500;
  EXPECT_NEAR(fwd.CausalKernelUs(1024, 1024, 0, 64, 16, 1), 746.485, 1e-9);
  fwd.cost.capped_after_us = 1000;
  EXPECT_NEAR(fwd.CausalKernelUs(4096, 4096, 0, 8, 1, 1), 90.4, 1e-9);
  bwd.cost.capped_after_us = 100, bwd.cost.capped_slowdown = 0.2;
  EXPECT_NEAR(bwd.CausalKernelUs(2048, 2048, 0, 16, 2, 4), 224.92, 1e-9);
}

// The load clock: the busy time M runs load_slowdown·(load − load_knee) slower where the launch's load (the CTAs'
// summed slot time over slots × M) passes the knee. Forward(): kernel 5 us, CTA 2 us, tile 1 us, 132 slots.
TEST(CtaCost, LoadClockSlowsBusyLaunchesOnly) {
  WaveModel w = Forward();
  w.cost.load_knee = 0.5, w.cost.load_slowdown = 0.2;
  // One CTA per head of 8 key tiles (10 us): 33 CTAs (load 0.25) run at the lone-CTA clock; 99 (0.75) 5% slower;
  // 132 (a full round, load 1) 10% slower.
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 1024, 128.0 * 1024, 33, 1, 1), 5 + 10);
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 1024, 128.0 * 1024, 99, 1, 1), 5 + 10 * 1.05);
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 1024, 128.0 * 1024, 132, 1, 1), 5 + 10 * 1.1);
  // 133 CTAs: two rounds (20 us) at load 133 / 264, just past the knee.
  EXPECT_NEAR(w.KernelUs(128, 1024, 128.0 * 1024, 133, 1, 1), 5 + 20 + 20 * 0.2 / 264, 1e-12);
  // A list-scheduled causal head: CTAs of 4.5 and 3.5 us, busy 4.5 us, load 8 / (132 · 4.5), under the knee; with
  // the knee at 0 it adds 0.2 · 8 / 132 us.
  EXPECT_DOUBLE_EQ(w.CausalKernelUs(256, 256, 0, 1, 1, 1), 5 + 4.5);
  w.cost.load_knee = 0;
  EXPECT_NEAR(w.CausalKernelUs(256, 256, 0, 1, 1, 1), 5 + 4.5 + 0.2 * 8 / 132, 1e-12);
  // With the power cap after it: two full rounds, busy 20 · 1.2 = 24 us, of which 9 past 15 us run 10% slower; the
  // first idle slot (the kernel's end: no partial round) stretches by the same factor.
  w.cost.capped_after_us = 15, w.cost.capped_slowdown = 0.1;
  EXPECT_NEAR(w.KernelUs(512, 1024, 512.0 * 1024, 66, 1, 1), 5 + 24 + 0.9, 1e-12);
  EXPECT_NEAR(w.FirstIdleUs(512, 1024, 512.0 * 1024, 66, 1, 1), 24.9, 1e-12);
}

// The same parameters as AgreesWithThePythonTwinTheFitUses under the load clock: cta_model.clocked() of the twin's
// features (list-scheduled forward at load 0.65, mean-round forward of 62 rounds, GQA backward with the power cap).
TEST(CtaCost, LoadClockAgreesWithThePythonTwin) {
  WaveModel fwd = TwinModel(false), bwd = TwinModel(true);
  fwd.cost.load_knee = 0.25, fwd.cost.load_slowdown = 0.2;
  EXPECT_NEAR(fwd.CausalKernelUs(4096, 4096, 0, 8, 1, 1), 97.4530303030303, 1e-9);
  fwd.cost.load_knee = 0.5, fwd.cost.load_slowdown = 0.1;
  EXPECT_NEAR(fwd.CausalKernelUs(1024, 1024, 0, 64, 16, 1), 759.341893939394, 1e-9);
  bwd.cost.load_slowdown = 0.3, bwd.cost.capped_after_us = 100, bwd.cost.capped_slowdown = 0.2;
  EXPECT_NEAR(bwd.CausalKernelUs(2048, 2048, 0, 16, 2, 4), 263.878545454545, 1e-9);
}

TEST(CtaCost, MonotoneInWork) {
  const WaveModel w = Forward();
  double last = 0;
  for (int heads = 1; heads <= 2048; heads *= 2) {
    const double causal = w.CausalKernelUs(4096, 4096, 0, heads, 1, 1);
    const double full = w.KernelUs(4096, 4096, 4096.0 * 4096, heads, 1, 1);
    EXPECT_GE(causal, last) << heads;
    // A causal block is never slower than the full one but for its longest CTA's diagonal tile (one round).
    EXPECT_GE(full + w.cost.masked_tile_us, causal) << heads;
    if (heads >= 64) EXPECT_LT(causal, 0.75 * full) << heads;
    last = causal;
  }
  double prev = 0;
  for (int64_t s = 512; s <= 65536; s *= 2) {
    const double t = w.CausalKernelUs(s, s, 0, 32, 2, 1);
    EXPECT_GT(t, prev) << s;
    prev = t;
  }
}

HardwareProfile Bundled(const std::string& name) {
  HardwareProfile hw;
  EXPECT_TRUE(LoadProfile(std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/" + name + ".json", &hw).ok()) << name;
  return hw;
}

TEST(CtaCost, ProfileJsonParsesAndRejectsBadValues) {
  nlohmann::json j = nlohmann::json::parse(std::ifstream(std::string(RINGLAB_SOURCE_DIR) +
                                                         "/sim/profiles/h100_sxm_calibrated.json"));
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(j, "p.json", &hw).ok());
  const AttentionTable* t = hw.FindTable("forward", "causal", 128, "overwrite");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->wave.cost.enabled);
  EXPECT_GT(t->wave.cost.tile_us, 0);
  EXPECT_GT(t->measured_tiles_per_cta.second, t->measured_tiles_per_cta.first);
  // The power cap's and load clock's fields are optional (absent: 0, no slowdown) and range-checked by name.
  nlohmann::json old_form = j;
  for (auto& table : old_form["compute"]["attention"]) {
    table["wave"]["cost"].erase("capped_after_us");
    table["wave"]["cost"].erase("capped_slowdown");
    table["wave"]["cost"].erase("load_knee");
    table["wave"]["cost"].erase("load_slowdown");
  }
  ASSERT_TRUE(ParseProfile(old_form, "p.json", &hw).ok());
  EXPECT_EQ(hw.FindTable("forward", "causal", 128, "overwrite")->wave.cost.capped_slowdown, 0);
  EXPECT_EQ(hw.FindTable("forward", "causal", 128, "overwrite")->wave.cost.load_slowdown, 0);
  nlohmann::json capped = j;
  capped["compute"]["attention"][0]["wave"]["cost"]["capped_slowdown"] = 1.5;
  Status st = ParseProfile(capped, "p.json", &hw);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("wave.cost.capped_slowdown"), std::string::npos) << st.message();
  nlohmann::json loaded = j;
  loaded["compute"]["attention"][0]["wave"]["cost"]["load_knee"] = 1.5;
  st = ParseProfile(loaded, "p.json", &hw);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("wave.cost.load_knee"), std::string::npos) << st.message();
  j["compute"]["attention"][0]["wave"]["cost"]["tile_us"] = 0;
  st = ParseProfile(j, "p.json", &hw);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("wave.cost.tile_us"), std::string::npos) << st.message();
}

// One-GPU attention of the whole problem, forward.
ScheduleConfig OneGpu(int batch, int heads, int64_t seq, int d, bool causal) {
  ScheduleConfig c;
  c.problem = Problem{.batch = batch, .heads = heads, .kv_heads = heads, .seq = seq, .head_dim = d, .causal = causal};
  c.world = 1;
  c.sharding = ShardingKind::kContiguous;
  c.pass = Pass::kForward;
  return c;
}

SimResult SimulateOne(const ScheduleConfig& c, const HardwareProfile& hw) {
  SimResult r;
  const Status st = Simulate(c, hw, SimOptions{}, &r);
  EXPECT_TRUE(st.ok()) << st.message();
  return r;
}

TEST(CtaCost, FittedProfilesFollowTheLaunchsParallelism) {
  for (const char* name : {"h100_sxm_calibrated", "h100_pytorch_peer"}) {
    const HardwareProfile hw = Bundled(name);
    // The same FLOPs as 16 x 64 heads of 1024 tokens in 1 x 8 heads of 11585 tokens: far fewer CTAs, longer loops.
    // Time grows with batch x heads at a fixed sequence, and with the sequence at fixed batch x heads.
    double last = 0;
    for (int bh : {1, 2, 4, 8, 16}) {
      const double t = SimulateOne(OneGpu(bh, 64, 1024, 128, true), hw).summary.step_time_us;
      EXPECT_GT(t, last) << name << " batch " << bh;
      last = t;
    }
    last = 0;
    for (int64_t s = 1024; s <= 32768; s *= 2) {
      const double t = SimulateOne(OneGpu(1, 8, s, 64, false), hw).summary.step_time_us;
      EXPECT_GT(t, last) << name << " S " << s;
      last = t;
    }
  }
}

TEST(CtaCost, OutsideTheMeasuredTilesPerCtaIsExtrapolated) {
  const HardwareProfile hw = Bundled("h100_sxm_calibrated");
  // Inside the coverage (S 512..65536 at batch x heads 8..1024): measured.
  EXPECT_EQ(SimulateOne(OneGpu(2, 16, 8192, 128, false), hw).extrapolation.Share(), 0);
  // S = 1M tokens: 8192 key tiles per CTA, far beyond the longest measured loop.
  const SimResult far = SimulateOne(OneGpu(1, 8, 1 << 20, 128, false), hw);
  EXPECT_GT(far.extrapolation.Share(), 0.99);
  EXPECT_EQ(far.extrapolation.first_why, Extrapolation::kBlockSize);
}

// The calibrated profile without its measured D=256 tables (as it was before the D=256 coverage was merged), and with
// synthetic ones as calibrate/scripts/merge_head_dim.py writes them: each D=128 table again at D=256 on the ws kernels'
// D=256 tiles (forward 128 x 64, backward 64 x 64), its per-tile cost times `tile_scale` (0: none added).
HardwareProfile WithHeadDim256(double tile_scale) {
  nlohmann::json j = nlohmann::json::parse(std::ifstream(std::string(RINGLAB_SOURCE_DIR) +
                                                         "/sim/profiles/h100_sxm_calibrated.json"));
  nlohmann::json& tables = j["compute"]["attention"];
  tables.erase(std::remove_if(tables.begin(), tables.end(), [](const nlohmann::json& t) { return t["head_dim"] == 256; }),
               tables.end());
  nlohmann::json added = nlohmann::json::array();
  for (const nlohmann::json& t : j["compute"]["attention"]) {
    if (t["head_dim"] != 128 || tile_scale == 0) continue;
    nlohmann::json d256 = t;
    d256["head_dim"] = 256;
    d256["wave"]["tile_kv"] = 64;
    if (t["pass"] == "backward") d256["wave"]["tile_q"] = 64;
    d256["wave"]["cost"]["tile_us"] = t["wave"]["cost"]["tile_us"].get<double>() * tile_scale;
    added.push_back(d256);
  }
  for (const nlohmann::json& t : added) j["compute"]["attention"].push_back(t);
  HardwareProfile hw;
  EXPECT_TRUE(ParseProfile(j, "d256.json", &hw).ok());
  return hw;
}

TEST(CtaCost, MergedHeadDim256TableIsReadNotExtrapolated) {
  const HardwareProfile bundled = WithHeadDim256(0), merged = WithHeadDim256(1.6);
  ASSERT_NE(merged.FindTable("backward", "causal", 256), nullptr);
  EXPECT_EQ(merged.FindTable("forward", "full", 256, "overwrite")->wave.tile_kv, 64);
  // One GPU, 2 x 16 heads of 8192 tokens (tiles per CTA within the D=128 coverage's): without the tables the head dim
  // is extrapolated from D=64/128, with them the op reads them.
  const ScheduleConfig one = OneGpu(2, 16, 8192, 256, false);
  const SimResult before = SimulateOne(one, bundled), after = SimulateOne(one, merged);
  EXPECT_EQ(before.extrapolation.first_why, Extrapolation::kHeadDim);
  EXPECT_EQ(after.extrapolation.Share(), 0);
  EXPECT_NE(after.summary.step_time_us, before.summary.step_time_us);
  // The time is the table's: a dearer tile at D=256 is a slower op, and no other table moves D=128.
  const SimResult dearer = SimulateOne(one, WithHeadDim256(2.0));
  EXPECT_GT(dearer.summary.step_time_us, after.summary.step_time_us * 1.1);
  EXPECT_DOUBLE_EQ(SimulateOne(OneGpu(2, 16, 8192, 128, false), merged).summary.step_time_us,
                   SimulateOne(OneGpu(2, 16, 8192, 128, false), bundled).summary.step_time_us);
  // A ring of 8 GPUs at D=256, both passes: no op extrapolated along the head dim.
  for (Pass pass : {Pass::kForward, Pass::kBackward}) {
    ScheduleConfig ring = OneGpu(1, 16, 65536, 256, true);
    ring.world = 8;
    ring.sharding = ShardingKind::kHeadTail;
    ring.pass = pass;
    const SimResult r = SimulateOne(ring, merged);
    EXPECT_EQ(r.extrapolation.extrapolated_ps[int(Extrapolation::kHeadDim)], 0) << int(pass);
    EXPECT_GT(r.extrapolation.compute_ps, 0);
  }
}

}  // namespace
}  // namespace ringlab::sim
