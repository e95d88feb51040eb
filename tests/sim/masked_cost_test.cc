// The masked kernels' terms of the CTA cost form (sim/wave_model.h CtaCost "masked"): the persistent forward's CTAs
// taking tiles from a counter (PersistentKernelUs, by hand), the replaced per-CTA and per-tile terms, the JSON's
// checks, and the bundled profile's masked blocks: counted as measured where its D = 64/128 tables were fitted on
// masked kernels, as extrapolated (masked_block) at a head dim they were not.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/mask_spec.h"
#include "sim/cost_model.h"
#include "sim/profile.h"
#include "sim/simulate.h"
#include "sim/wave_model.h"

namespace ringlab::sim {
namespace {

WaveModel FourSlots() {
  WaveModel w;
  w.enabled = true;
  w.tile_q = w.tile_kv = 128;
  w.sms = 4;
  w.cost = {.enabled = true, .kernel_us = 5, .cta_us = 2, .tile_us = 1, .masked_tile_us = 0.5};
  return w;
}

TEST(MaskedCost, PersistentCtasTakeTheNextItemWhenTheyFree) {
  const WaveModel w = FourSlots();
  // One grid row of 3 query tiles (384 rows), 2 heads: items (4 tiles, 1 partial), (2, 0), (0, 0), then again.
  // Item costs 2 + 4 + 0.5 = 6.5 and 2 + 2 = 4; a CTA pays the startup (3) with its first item that has tiles.
  // 4 CTAs take items 0-3 by index: CTA 0 ends at 9.5, CTA 1 at 7, CTA 2 has nothing (free at 0), CTA 3 at 9.5.
  // Item 4 (cost 4) goes to CTA 2, the first free (3 + 4 = 7); item 5 (empty) to CTA 1 (free at 7, lower index).
  const std::vector<std::pair<double, double>> work = {{4, 1}, {2, 0}, {0, 0}};
  double first_idle = -1;
  const double us = w.PersistentKernelUs(work, 384, 512, 2, 1, 1, 3, &first_idle);
  EXPECT_DOUBLE_EQ(us, 5 + 3 + 6.5);  // CTAs 0 and 3; a fixed stride would give CTA 0 items 0 and 4: 5 + 3 + 6.5 + 4
  EXPECT_DOUBLE_EQ(first_idle, 7);    // CTAs 1 and 2 end first
  // Many items per CTA: their mean, each CTA paying the startup once.
  const double many = w.PersistentKernelUs(work, 384, 512, 200, 1, 1, 3);
  EXPECT_DOUBLE_EQ(many, 5 + 3 + (6.5 + 4) * 200 / 4);
}

TEST(MaskedCost, PersistentCtasBalanceHeavyAndLightHalves) {
  // 8 heads of 4 query tiles whose first two items are heavy (10) and last two light (1), 4 CTAs: a fixed stride of 4
  // would give CTAs 0 and 1 every heavy item (8 x 10 = 80); taking the next item when free spreads them (each CTA
  // ends within one heavy item of the mean, 22 x 8 / 4 = 44).
  WaveModel w = FourSlots();
  w.cost.cta_us = 0, w.cost.masked_tile_us = 0;
  const std::vector<std::pair<double, double>> work = {{10, 0}, {10, 0}, {1, 0}, {1, 0}};
  const double us = w.PersistentKernelUs(work, 512, 512, 8, 1, 1, 0) - w.cost.kernel_us;
  EXPECT_GE(us, 44);
  EXPECT_LE(us, 44 + 10);
}

TEST(MaskedCost, MaskedTermsReplaceTheDenseOnesOnlyWhenFitted) {
  CtaCost c = FourSlots().cost;
  EXPECT_DOUBLE_EQ(c.ForMaskedKernels().CtaUs(4, 1), c.CtaUs(4, 1));  // not fitted: the dense terms
  c.masked_fitted = true;
  c.masked_cta_us = 7, c.masked_whole_tile_us = 1.5, c.edge_tile_us = 0.25;
  EXPECT_DOUBLE_EQ(c.ForMaskedKernels().CtaUs(4, 1), 7 + 1.5 * 4 + 0.25);
  EXPECT_DOUBLE_EQ(c.CtaUs(4, 1), 2 + 4 + 0.5);  // dense blocks keep theirs
}

nlohmann::json BundledJson() {
  const std::string path = std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/h100_sxm_calibrated.json";
  return nlohmann::json::parse(std::ifstream(path));
}

TEST(MaskedCost, JsonIsCheckedByName) {
  const nlohmann::json j = BundledJson();
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(j, "p.json", &hw).ok());
  const AttentionTable* fwd = hw.FindTable("forward", "causal", 128, "overwrite");
  const AttentionTable* bwd = hw.FindTable("backward", "causal", 128, "");
  ASSERT_NE(fwd, nullptr);
  ASSERT_NE(bwd, nullptr);
  EXPECT_TRUE(fwd->wave.cost.masked_fitted && fwd->wave.cost.masked_persistent);
  EXPECT_TRUE(bwd->wave.cost.masked_fitted && !bwd->wave.cost.masked_persistent);
  // D = 256: the backward carries the D = 64/128 factors (transferred, held out on D = 256 kernels), the forward none.
  EXPECT_FALSE(hw.FindTable("forward", "causal", 256, "overwrite")->wave.cost.masked_fitted);
  const AttentionTable* bwd256 = hw.FindTable("backward", "causal", 256, "");
  ASSERT_NE(bwd256, nullptr);
  EXPECT_TRUE(bwd256->wave.cost.masked_fitted && !bwd256->wave.cost.masked_persistent);
  size_t fitted = 0;
  for (size_t i = 0; i < j["compute"]["attention"].size(); ++i)
    if (j["compute"]["attention"][i]["wave"]["cost"].contains("masked")) fitted = i;
  auto refused = [&](const char* key, const nlohmann::json& value, const std::string& named) {
    nlohmann::json bad = j;
    bad["compute"]["attention"][fitted]["wave"]["cost"]["masked"][key] = value;
    const Status st = ParseProfile(bad, "p.json", &hw);
    EXPECT_FALSE(st.ok()) << key;
    EXPECT_NE(st.message().find(named), std::string::npos) << st.message();
  };
  refused("tile_us", 0, "wave.cost.masked.tile_us");
  refused("cta_us", -1, "wave.cost.masked.cta_us");
  refused("edge_tile_us", "x", "wave.cost.masked.edge_tile_us");
  refused("persistent", "yes", "wave.cost.masked.persistent");
  refused("tile_usec", 1, "tile_usec");
  nlohmann::json missing = j;
  missing["compute"]["attention"][fitted]["wave"]["cost"]["masked"].erase("edge_tile_us");
  EXPECT_FALSE(ParseProfile(missing, "p.json", &hw).ok());
}

SimResult OneGpuMasked(const std::string& mask, int d, Pass pass) {
  ScheduleConfig c;
  c.problem = Problem{.batch = 1, .heads = 16, .kv_heads = 16, .seq = 32768, .head_dim = d, .causal = true};
  EXPECT_TRUE(ApplyMaskSpec(mask, &c.problem).ok()) << mask;
  c.world = 1;
  c.sharding = ShardingKind::kContiguous;
  c.pass = pass;
  HardwareProfile hw;
  EXPECT_TRUE(LoadProfile(std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/h100_sxm_calibrated.json", &hw).ok());
  SimResult r;
  const Status st = Simulate(c, hw, SimOptions{}, &r);
  EXPECT_TRUE(st.ok()) << st.message();
  return r;
}

TEST(MaskedCost, BundledProfileCountsFittedMaskedBlocksAsMeasured) {
  for (Pass pass : {Pass::kForward, Pass::kBackward})
    for (const char* mask : {"causal+docs-synthetic:uniform", "causal+window:1000,0"}) {
      const SimResult fitted = OneGpuMasked(mask, 128, pass);
      EXPECT_EQ(fitted.extrapolation.extrapolated_ps[int(Extrapolation::kMaskedBlock)], 0) << mask;
      // D = 256: the forward table has no masked terms (counted extrapolated), the backward's were transferred.
      const SimResult d256 = OneGpuMasked(mask, 256, pass);
      if (pass == Pass::kForward) {
        EXPECT_GT(d256.extrapolation.extrapolated_ps[int(Extrapolation::kMaskedBlock)], 0) << mask;
      } else {
        EXPECT_EQ(d256.extrapolation.extrapolated_ps[int(Extrapolation::kMaskedBlock)], 0) << mask;
      }
      // A narrower window costs less; the masked kernel never more than the dense causal one at this shape.
      EXPECT_LE(fitted.summary.step_time_us, OneGpuMasked("causal", 128, pass).summary.step_time_us * 1.05) << mask;
    }
  EXPECT_LT(OneGpuMasked("causal+window:512,0", 128, Pass::kForward).summary.step_time_us,
            OneGpuMasked("causal+window:4096,0", 128, Pass::kForward).summary.step_time_us);
}

}  // namespace
}  // namespace ringlab::sim
