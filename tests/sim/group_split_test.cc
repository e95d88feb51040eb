// The backward's GQA group split (kernels/cuda/attention_tiles.h BackwardGroupSplits) as the simulator models it
// (WaveModel::GroupWalk::kSplit): where a kv-head grid leaves SMs idle each key block's group is shared by several CTAs,
// so a GQA backward costs about what its MHA twin does instead of the whole group's walk on a few CTAs; where the grid
// fills the SMs nothing changes. And FlashAttention-2's GQA backward (WaveModel::GroupWalk::kExpand: a CTA per query head,
// then the sum of the expanded dK/dV), the peer profile's. Also the profile fields' parsing.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <tuple>

#include "kernels/cuda/attention_tiles.h"
#include "sim/profile.h"
#include "sim/simulate.h"
#include "sim/wave_model.h"

namespace ringlab::sim {
namespace {

// A backward-like wave model: 132 SMs, one CTA each, 128 keys x 64 queries.
WaveModel Backward(bool split) {
  WaveModel w;
  w.enabled = true;
  w.grid_kv = true;
  w.tile_q = 64;
  w.tile_kv = 128;
  w.group_walk = split ? WaveModel::GroupWalk::kSplit : WaveModel::GroupWalk::kWhole;
  w.cost = {.enabled = true, .kernel_us = 5, .cta_us = 2, .tile_us = 1, .masked_tile_us = 0.5};
  return w;
}

TEST(GroupSplit, RuleForEqualCtasTakesTheFewestHeadWalks) {
  using cuda::tiles::BackwardGroupSplits;
  // 32 key-block CTAs, group 8: split 4 is one round of 2 heads; 8 would be two rounds of 1 (no better).
  EXPECT_EQ(BackwardGroupSplits(32, 8, 132, false), 4);
  EXPECT_EQ(BackwardGroupSplits(64, 8, 132, false), 2);   // 128 CTAs: one round of 4 heads
  EXPECT_EQ(BackwardGroupSplits(40, 6, 132, false), 3);   // 120 CTAs: one round of 2 heads
  EXPECT_EQ(BackwardGroupSplits(100, 8, 132, false), 1);  // 8 walks; 7 at best (split 8): not worth the atomics
  EXPECT_EQ(BackwardGroupSplits(132, 8, 132, false), 1);  // already full: no atomics
  EXPECT_EQ(BackwardGroupSplits(10, 1, 132, false), 1);   // MHA: nothing to split
  EXPECT_EQ(BackwardGroupSplits(10, 7, 132, false), 7);   // a prime group: all or nothing
  EXPECT_EQ(BackwardGroupSplits(10, 8, 132, false, 1), 1);  // RINGLAB_BWD_GROUP_SPLITS=1
  EXPECT_EQ(BackwardGroupSplits(10, 8, 132, false, 3), 2);  // the best divisor under the cap
}

TEST(GroupSplit, RuleForUnequalCtasGivesTheSchedulerFourPerSm) {
  using cuda::tiles::BackwardGroupSplits;
  EXPECT_EQ(BackwardGroupSplits(32, 8, 132, true), 8);    // 256 CTAs: all it can
  EXPECT_EQ(BackwardGroupSplits(256, 4, 132, true), 4);   // B = 1, H = 32, Hkv = 8, 4096 keys
  EXPECT_EQ(BackwardGroupSplits(512, 4, 132, true), 2);   // 1024 CTAs reach 4 per SM
  EXPECT_EQ(BackwardGroupSplits(528, 8, 132, true), 1);   // already 4 per SM
  EXPECT_EQ(BackwardGroupSplits(32, 8, 132, true, 4), 4);  // the cap
}

TEST(GroupSplit, GroupPerCtaOnlyWhereTheGridIsShort) {
  const WaveModel w = Backward(true), walk = Backward(false);
  // B = 1, H = 8, Hkv = 1, 4096 keys: 32 key blocks, group 8 -> full mask: 4 CTAs per key block, two heads each;
  // causal: 8, one head each.
  EXPECT_DOUBLE_EQ(w.GroupPerCta(4096, 4096, 8, 1, 8, false), 2);
  EXPECT_DOUBLE_EQ(w.Ctas(4096, 4096, 8, 1, w.GroupPerCta(4096, 4096, 8, 1, 8, false)), 128);
  EXPECT_DOUBLE_EQ(w.GroupPerCta(4096, 4096, 8, 1, 8, true), 1);
  EXPECT_DOUBLE_EQ(walk.GroupPerCta(4096, 4096, 8, 1, 8, true), 8);
  // B = 4, H = 32, Hkv = 8, 4096 keys: 1024 CTAs; the group stays whole.
  EXPECT_DOUBLE_EQ(w.GroupPerCta(4096, 4096, 32, 4, 4, true), 4);
  WaveModel fwd = Backward(true);
  fwd.grid_kv = false;  // a query grid has no group to split
  EXPECT_DOUBLE_EQ(fwd.GroupPerCta(4096, 4096, 8, 1, 8, true), 8);
}

TEST(GroupSplit, SplitBackwardCostsAboutItsMhaTwin) {
  const WaveModel w = Backward(true), walk = Backward(false);
  for (bool causal : {false, true}) {
    auto us = [&](const WaveModel& m, double group) {
      const double g = m.GroupPerCta(4096, 4096, 8, 1, group, causal);
      return causal ? m.CausalKernelUs(4096, 4096, 0, 8, 1, g) : m.KernelUs(4096, 4096, 4096.0 * 4096, 8, 1, g);
    };
    const double mha = us(w, 1), split = us(w, 8), whole = us(walk, 8);
    EXPECT_NEAR(split, mha, 0.15 * mha) << causal;  // full: 128 CTAs of 2 heads against 256 of 1; causal: the same
    EXPECT_GT(whole, 2.5 * split) << causal;        // 32 CTAs walking 8 heads each
  }
}

HardwareProfile Bundled(const std::string& name) {
  HardwareProfile hw;
  EXPECT_TRUE(LoadProfile(std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/" + name + ".json", &hw).ok()) << name;
  return hw;
}

double BackwardUs(const HardwareProfile& hw, int batch, int heads, int kv_heads, int64_t seq) {
  ScheduleConfig c;
  c.problem = Problem{.batch = batch, .heads = heads, .kv_heads = kv_heads, .seq = seq, .head_dim = 128,
                      .causal = true};
  c.world = 1;
  c.sharding = ShardingKind::kContiguous;
  c.pass = Pass::kBackward;
  SimResult r;
  const Status st = Simulate(c, hw, SimOptions{}, &r);
  EXPECT_TRUE(st.ok()) << st.message();
  return r.summary.step_time_us;
}

// Our kernels' profile splits; a small GQA backward is then no slower than 1.2x its MHA twin (the profile without
// the field: several times slower). A GQA backward of 4 CTAs per SM and more is the same with or without it.
TEST(GroupSplit, BundledProfileOfOurKernelsSplits) {
  const HardwareProfile hw = Bundled("h100_sxm_calibrated");
  const AttentionTable* t = hw.FindTable("backward", "causal", 128, "overwrite");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->wave.group_walk, WaveModel::GroupWalk::kSplit);
  HardwareProfile walk = hw;
  for (AttentionTable& table : walk.attention) table.wave.group_walk = WaveModel::GroupWalk::kWhole;
  const double gqa = BackwardUs(hw, 1, 8, 1, 4096), mha = BackwardUs(hw, 1, 8, 8, 4096);
  EXPECT_LT(gqa, 1.2 * mha);
  EXPECT_GT(BackwardUs(walk, 1, 8, 1, 4096), 2 * gqa);
  EXPECT_DOUBLE_EQ(BackwardUs(hw, 4, 32, 8, 4096), BackwardUs(walk, 4, 32, 8, 4096));  // 1024 CTAs: no split
}

TEST(GroupSplit, ProfileFieldIsCheckedByName) {
  nlohmann::json j = nlohmann::json::parse(std::ifstream(std::string(RINGLAB_SOURCE_DIR) +
                                                         "/sim/profiles/h100_sxm_calibrated.json"));
  HardwareProfile hw;
  const size_t tables = j["compute"]["attention"].size();
  ASSERT_GT(tables, 0u);
  for (size_t i = 0; i < tables; ++i) {  // a kv grid's field must be a boolean; a query grid may not set it
    nlohmann::json bad = j;
    nlohmann::json& wave = bad["compute"]["attention"][i]["wave"];
    wave["split_group"] = wave["grid"] == "kv" ? nlohmann::json("yes") : nlohmann::json(true);
    const Status st = ParseProfile(bad, "p.json", &hw);
    ASSERT_FALSE(st.ok()) << i;
    EXPECT_NE(st.message().find("wave.split_group"), std::string::npos) << st.message();
  }
}

// FlashAttention-2 (the peer profile): a CTA per query head and key block whatever the grid's size, so a GQA backward
// costs its MHA twin's kernel plus the two sums of the expanded dK/dV (launch + bytes at the copy bandwidth).
TEST(ExpandGroup, PeerBackwardIsItsMhaTwinPlusTheSum) {
  WaveModel w = Backward(false);
  w.group_walk = WaveModel::GroupWalk::kExpand;
  EXPECT_DOUBLE_EQ(w.GroupPerCta(4096, 4096, 8, 1, 8, true), 1);
  EXPECT_DOUBLE_EQ(w.GroupPerCta(4096, 4096, 32, 4, 4, false), 1);  // even where the grid is full
  EXPECT_DOUBLE_EQ(w.Ctas(4096, 4096, 8, 1, 1), 256);               // B·H·key blocks
  const HardwareProfile hw = Bundled("h100_pytorch_peer");
  const AttentionTable* t = hw.FindTable("backward", "causal", 128, "");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->wave.group_walk, WaveModel::GroupWalk::kExpand);
  const double gqa = BackwardUs(hw, 1, 8, 1, 4096), mha = BackwardUs(hw, 1, 8, 8, 4096);
  // dK and dV of 8 query heads read, of 1 kv head written: 2 x (8 + 1) x 4096 x 128 x 2 bytes.
  const double sum_us = 2 * hw.launch_us + 2 * 9 * 4096 * 128 * 2 / (hw.copy_gbps * 1e3);
  EXPECT_NEAR(gqa, mha + sum_us, 1e-6 * mha);
  HardwareProfile walk = hw;  // the peer before: a CTA walking the group, several times slower here
  for (AttentionTable& table : walk.attention) table.wave.group_walk = WaveModel::GroupWalk::kWhole;
  EXPECT_GT(BackwardUs(walk, 1, 8, 1, 4096), 2 * gqa);
  EXPECT_DOUBLE_EQ(BackwardUs(hw, 1, 8, 8, 4096), BackwardUs(walk, 1, 8, 8, 4096));  // MHA: unchanged
}

TEST(ExpandGroup, ProfileFieldIsCheckedByName) {
  nlohmann::json j = nlohmann::json::parse(std::ifstream(std::string(RINGLAB_SOURCE_DIR) +
                                                         "/sim/profiles/h100_pytorch_peer.json"));
  HardwareProfile hw;
  for (const auto& [grid, split, value] : {std::tuple{"q", false, nlohmann::json(true)},
                                           std::tuple{"kv", false, nlohmann::json(1)},
                                           std::tuple{"kv", true, nlohmann::json(true)}}) {
    nlohmann::json bad = j;
    nlohmann::json& wave = bad["compute"]["attention"][0]["wave"];
    wave["grid"] = grid;
    wave["split_group"] = split;
    wave["expand_group"] = value;
    const Status st = ParseProfile(bad, "p.json", &hw);
    ASSERT_FALSE(st.ok()) << grid << split;
    EXPECT_NE(st.message().find("wave.expand_group"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace ringlab::sim
