#include <gtest/gtest.h>

#include <fstream>

#include "sim/profile.h"

namespace ringlab::sim {
namespace {

nlohmann::json Bundled(const std::string& name) {
  std::ifstream f(std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/" + name + ".json");
  return nlohmann::json::parse(f);
}

std::string ErrorOf(const nlohmann::json& j) {
  HardwareProfile hw;
  Status st = ParseProfile(j, "test.json", &hw);
  EXPECT_FALSE(st.ok());
  return st.message();
}

TEST(SimProfile, EveryBundledProfileLoads) {
  for (const char* name : {"h100_sxm", "h200", "a100_sxm", "b200", "h100_pytorch_peer"}) {
    HardwareProfile hw;
    Status st = LoadProfile(std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/" + name + ".json", &hw);
    EXPECT_TRUE(st.ok()) << name << ": " << st.message();
    EXPECT_GT(hw.peak_tflops, 0);
    EXPECT_EQ(hw.gpus_per_node, 8);
  }
}

TEST(SimProfile, DefaultNameResolvesInTheProfileFolder) {
  HardwareProfile hw;
  ASSERT_TRUE(LoadProfile(kDefaultProfile, &hw).ok());
  EXPECT_EQ(hw.name, "h100_sxm_calibrated");  // the validated profile of our kernels (issue 15)
  EXPECT_NE(hw.FindTable("forward", "causal", 128), nullptr);
}

TEST(SimProfile, MissingFieldIsNamed) {
  nlohmann::json j = Bundled("h100_sxm");
  j["network"].erase("nic_gbps");
  EXPECT_NE(ErrorOf(j).find("network.nic_gbps is missing"), std::string::npos) << ErrorOf(j);
}

TEST(SimProfile, OutOfRangeValueIsNamed) {
  nlohmann::json j = Bundled("h100_sxm");
  j["network"]["nvlink_gbps"]["value"] = -3;
  EXPECT_NE(ErrorOf(j).find("network.nvlink_gbps.value must be in"), std::string::npos) << ErrorOf(j);
}

TEST(SimProfile, NumberWithoutSourceIsRejected) {
  nlohmann::json j = Bundled("h100_sxm");
  j["compute"]["launch_us"].erase("source");
  EXPECT_NE(ErrorOf(j).find("compute.launch_us.source"), std::string::npos) << ErrorOf(j);
}

TEST(SimProfile, StartOrderIsListedUnlessTheProfileModelsAnotherExecutor) {
  HardwareProfile ours, peer;
  ASSERT_TRUE(ParseProfile(Bundled("h100_sxm"), "h100_sxm.json", &ours).ok());
  ASSERT_TRUE(ParseProfile(Bundled("h100_pytorch_peer"), "h100_pytorch_peer.json", &peer).ok());
  EXPECT_TRUE(ours.listed_start_order);
  EXPECT_FALSE(peer.listed_start_order) << "PyTorch CP releases each stream's ops as they become ready";
  nlohmann::json j = Bundled("h100_sxm");
  j["compute"]["start_order"] = {{"value", "fifo"}, {"source", "x"}};
  EXPECT_NE(ErrorOf(j).find("compute.start_order must be {\"value\": \"listed\" or \"streams\""), std::string::npos)
      << ErrorOf(j);
}

TEST(SimProfile, BadTablePointIsNamed) {
  nlohmann::json j = Bundled("h100_sxm");
  j["compute"]["attention"][1]["points"][1][0] = 1;  // tokens must increase
  EXPECT_NE(ErrorOf(j).find("compute.attention[1].points[1]"), std::string::npos) << ErrorOf(j);
  j = Bundled("h100_sxm");
  j["compute"]["attention"][0]["mask"] = "sliding";
  EXPECT_NE(ErrorOf(j).find("compute.attention[0].mask"), std::string::npos) << ErrorOf(j);
}

TEST(SimProfile, ForwardTablesMayNameTheirOutputMode) {
  nlohmann::json j = Bundled("h100_sxm");
  nlohmann::json& tabs = j["compute"]["attention"];
  ASSERT_EQ(tabs[0]["pass"], "forward");
  nlohmann::json overwrite = tabs[0];
  overwrite["mode"] = "overwrite";
  tabs.push_back(overwrite);  // the same key in another mode is not a duplicate
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(j, "x.json", &hw).ok()) << ErrorOf(j);
  const AttentionTable& first = hw.attention[0];
  EXPECT_EQ(hw.FindTable("forward", first.mask, first.head_dim, "overwrite"), &hw.attention.back());
  EXPECT_EQ(hw.FindTable("forward", first.mask, first.head_dim, "merge"), &hw.attention[0]);  // the modeless one
  tabs.push_back(overwrite);
  EXPECT_NE(ErrorOf(j).find("duplicates an earlier table for the same pass, mask, head_dim and mode"),
            std::string::npos) << ErrorOf(j);
  j = Bundled("h100_sxm");
  for (nlohmann::json& t : j["compute"]["attention"])
    if (t["pass"] == "backward") {
      t["mode"] = "merge";
      break;
    }
  EXPECT_NE(ErrorOf(j).find(".mode must be \"merge\" or \"overwrite\", on a forward table only"), std::string::npos)
      << ErrorOf(j);
}

TEST(SimProfile, UnreadableFileIsNamed) {
  HardwareProfile hw;
  Status st = LoadProfile("/nonexistent/x.json", &hw);
  EXPECT_NE(st.message().find("/nonexistent/x.json"), std::string::npos);
  st = LoadProfile("no_such_profile", &hw);
  EXPECT_NE(st.message().find("no_such_profile.json"), std::string::npos);
}

TEST(SimProfile, TableInterpolatesInLogSizeAndClamps) {
  AttentionTable t{"forward", "causal", 128, {{1024, 100}, {4096, 200}}, "test"};
  EXPECT_DOUBLE_EQ(t.TflopsAt(512), 100);
  EXPECT_DOUBLE_EQ(t.TflopsAt(2048), 150);  // halfway in log2
  EXPECT_DOUBLE_EQ(t.TflopsAt(1e6), 200);
}

TEST(SimProfile, WaveModelCountsRoundsAndPartialRounds) {
  nlohmann::json j = Bundled("h100_sxm");
  j["compute"]["attention"][0].erase("points");
  j["compute"]["attention"][0]["wave"] = {{"grid", "kv"}, {"tile_q", 64}, {"tile_kv", 128}, {"sms", 4},
                                          {"ctas_per_sm", 2}, {"tile_us", 1.0}, {"cta_overhead_tiles", 2.0},
                                          {"single_resident_throughput", 0.5}};
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(j, "test.json", &hw).ok());
  const WaveModel& w = hw.attention[0].wave;
  ASSERT_TRUE(w.enabled);
  // grid kv: CTAs = hkv·kv/128; each loops over q/64 tiles of each of `group` heads, plus 2 tiles of overhead.
  // 8 CTAs on 4 SMs x 2 = one full round: 2 CTAs per SM, each (2·1 + 2) tiles -> 2·4 = 8 us.
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 1024, 128.0 * 1024, 1, 1, 1), 2 * 4.0);
  // 4 CTAs: one per SM at half throughput -> 4 / 0.5 = 8 us; 12 CTAs: a full round (8) + 1 per SM (8) = 16 us.
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 512, 128.0 * 512, 1, 1, 1), 8.0);
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 1536, 128.0 * 1536, 1, 1, 1), 16.0);
  // group 4 (GQA): 4 query heads of one kv head -> n = 2·4 = 8 tiles; 2 kv heads... h = 8 query heads.
  EXPECT_DOUBLE_EQ(w.KernelUs(128, 512, 128.0 * 512, 8, 1, 4), 2 * (8 + 2.0));
  j["compute"]["attention"][0]["wave"]["grid"] = "diagonal";
  EXPECT_NE(ErrorOf(j).find("compute.attention[0].wave.grid"), std::string::npos) << ErrorOf(j);
}

TEST(SimProfile, WaveModelReadsMeasuredRoundTable) {
  nlohmann::json j = Bundled("h100_sxm");
  j["compute"]["attention"][0].erase("points");
  // Forward-like grid over q tiles; no tile_us: the round table alone gives the cost of a full round.
  j["compute"]["attention"][0]["wave"] = {{"grid", "q"}, {"tile_q", 128}, {"tile_kv", 64}, {"sms", 4},
                                          {"ctas_per_sm", 2}, {"single_resident_throughput", 0.5},
                                          {"round_us", {{4, 10.0}, {16, 20.0}, {64, 70.0}}}};
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(j, "test.json", &hw).ok()) << ErrorOf(j);
  const WaveModel& w = hw.attention[0].wave;
  EXPECT_DOUBLE_EQ(w.RoundUs(4), 10);
  EXPECT_NEAR(w.RoundUs(8), std::sqrt(10.0 * 20.0), 1e-9);  // halfway in log n: geometric mean of the neighbours
  // Outside: R = a + b·n through the end segment. Above: b = 50/48, a = 70 − 64·b = 3.33: R(128) = a + 128·b.
  EXPECT_NEAR(w.RoundUs(128), 70 - 64 * 50.0 / 48 + 128 * 50.0 / 48, 1e-9);
  // Below: b = 10/12, a = 10 − 4·b = 6.67: R(2) = a + 2·b = 8.33 (a per-CTA cost that a shorter loop keeps).
  EXPECT_NEAR(w.RoundUs(2), 10 - 4 * 10.0 / 12 + 2 * 10.0 / 12, 1e-9);
  // q = 1024 rows -> 8 q tiles per head; kv = 1024 keys -> n = 16 tiles. h = 1: 8 CTAs = one full round of 4 SMs x 2.
  EXPECT_DOUBLE_EQ(w.KernelUs(1024, 1024, 1024.0 * 1024, 1, 1, 1), 20);
  // h = 3: 24 CTAs = 3 full rounds. q = 1536, h = 1: 12 CTAs = one round + 4 CTAs, one per SM at half throughput,
  // 1·R/(2·0.5) = R more.
  EXPECT_DOUBLE_EQ(w.KernelUs(1024, 1024, 1024.0 * 1024, 3, 1, 1), 60);
  EXPECT_DOUBLE_EQ(w.KernelUs(1536, 1024, 1536.0 * 1024, 1, 1, 1), 40);
  j["compute"]["attention"][0]["wave"]["round_us"] = {{16, 20.0}, {4, 10.0}};
  EXPECT_NE(ErrorOf(j).find("round_us[1]"), std::string::npos) << ErrorOf(j);
  j["compute"]["attention"][0]["wave"].erase("round_us");
  EXPECT_NE(ErrorOf(j).find("wave.tile_us"), std::string::npos) << ErrorOf(j);
}

// A GPU of `sms` SMs with 128-row q tiles, 64-key kv tiles, one CTA per SM and R(4) = 10, R(16) = 20, R(64) = 70 us.
static WaveModel SmallWaveModel(int sms) {
  WaveModel w;
  w.enabled = true;
  w.tile_q = 128;
  w.tile_kv = 64;
  w.sms = sms;
  w.ctas_per_sm = 1;
  w.round_us = {{4, 10.0}, {16, 20.0}, {64, 70.0}};
  return w;
}

TEST(SimProfile, FirstIdleSlotComesWithTheLastPartialRound) {
  const WaveModel w = SmallWaveModel(4);
  // Full mask, q = 1024 rows -> 8 q tiles per head, kv = 1024 -> n = 16 tiles, R = 20 us. h = 1: 8 CTAs on 4 SMs, two
  // full rounds: no slot idles before the end (40 us). h = 1, q = 1280: 10 CTAs, 2 full rounds + 2 CTAs: two SMs idle
  // as the third round starts, at 2·20 = 40 us of 60. 3 CTAs (q = 384) leave an SM idle from the start.
  EXPECT_DOUBLE_EQ(w.FirstIdleUs(1024, 1024, 1024.0 * 1024, 1, 1, 1), 40);
  EXPECT_DOUBLE_EQ(w.FirstIdleUs(1280, 1024, 1280.0 * 1024, 1, 1, 1), 40);
  EXPECT_DOUBLE_EQ(w.KernelUs(1280, 1024, 1280.0 * 1024, 1, 1, 1), 60);
  EXPECT_DOUBLE_EQ(w.FirstIdleUs(384, 1024, 384.0 * 1024, 1, 1, 1), 0);
  // Causal, q = kv = 1024, one head: CTAs of 16, 14, ..., 2 tiles, heaviest first, list-scheduled on 4 slots. The first
  // four start at 0 (16, 14, 12, 10 tiles); 8, 6, 4, 2 go to the slots as they free: the slot of 10 tiles (R(10))
  // takes 8, of 12 takes 6, of 14 takes 4, of 16 takes 2. After the last hand-out the earliest free slot is the first
  // to idle: min over slots of R(a) + R(b).
  double idle = -1;
  const double end = w.CausalKernelUs(1024, 1024, 0, 1, 1, 1, &idle);
  const double r10_8 = w.RoundUs(10) + w.RoundUs(8), r12_6 = w.RoundUs(12) + w.RoundUs(6),
               r14_4 = w.RoundUs(14) + w.RoundUs(4), r16_2 = w.RoundUs(16) + w.RoundUs(2);
  EXPECT_NEAR(end, std::max({r10_8, r12_6, r14_4, r16_2}), 1e-9);
  EXPECT_NEAR(idle, std::min({r10_8, r12_6, r14_4, r16_2}), 1e-9);
  EXPECT_LT(idle, end);
}

TEST(SimProfile, NcclDisplacesOnlyALastRoundThatNoLongerFitsBesideIt) {
  const WaveModel w = SmallWaveModel(4);
  // Full mask, n = 16 tiles per CTA (R = 20 us). q = 1280: 10 CTAs = 2 rounds + 2; with NCCL on 1 SM the last 2 still
  // fit on the other 3: nothing moves. q = 1792: 14 CTAs = 3 rounds + 2 ... and q = 1920: 15 = 3 rounds + 3 CTAs,
  // which need all 4 SMs when NCCL holds 2 of them: one round later (+R). Fewer CTAs than SMs (no full round) or a
  // full last round: nothing is pending when NCCL arrives.
  EXPECT_DOUBLE_EQ(w.DisplacedTailUs(1280, 1024, 1280.0 * 1024, 1, 1, 1, 1), 0);
  EXPECT_DOUBLE_EQ(w.DisplacedTailUs(1920, 1024, 1920.0 * 1024, 1, 1, 1, 1), 0);
  EXPECT_DOUBLE_EQ(w.DisplacedTailUs(1920, 1024, 1920.0 * 1024, 1, 1, 1, 2), 20);
  EXPECT_DOUBLE_EQ(w.DisplacedTailUs(384, 1024, 384.0 * 1024, 1, 1, 1, 2), 0);
  EXPECT_DOUBLE_EQ(w.DisplacedTailUs(1024, 1024, 1024.0 * 1024, 1, 1, 1, 2), 0);
  EXPECT_DOUBLE_EQ(w.DisplacedTailUs(1920, 1024, 1920.0 * 1024, 1, 1, 1, 0), 0);
}

TEST(SimProfile, DisplacedTailFractionIsPerPassWhenMeasured) {
  nlohmann::json j = Bundled("h100_sxm");
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(j, "test.json", &hw).ok()) << ErrorOf(j);
  EXPECT_DOUBLE_EQ(hw.DisplacedTailFraction(true), 1);  // not measured: always
  j["compute"]["displaced_tail_fraction"] = {{"value", 0.3}, {"source", "test"}};
  j["compute"]["forward_displaced_tail_fraction"] = {{"value", 0.0}, {"source", "test"}};
  ASSERT_TRUE(ParseProfile(j, "test.json", &hw).ok()) << ErrorOf(j);
  EXPECT_DOUBLE_EQ(hw.DisplacedTailFraction(true), 0);
  EXPECT_DOUBLE_EQ(hw.DisplacedTailFraction(false), 0.3);  // the pass-independent value
  j["compute"]["backward_displaced_tail_fraction"] = {{"value", 1.5}, {"source", "test"}};
  EXPECT_NE(ErrorOf(j).find("backward_displaced_tail_fraction"), std::string::npos) << ErrorOf(j);
}

TEST(SimProfile, KernelFirstFractionIsReadPerWorldSize) {
  nlohmann::json j = Bundled("h100_sxm");
  j["compute"]["forward_kernel_first_fraction"] = {{"by_world", {{2, 0.1}, {4, 0.55}}}, {"source", "test"}};
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(j, "test.json", &hw).ok()) << ErrorOf(j);
  // The largest measured world <= W; below all of them the smallest one's; none for the backward: 0.
  EXPECT_DOUBLE_EQ(KernelFirstFraction(hw, true, 1), 0.1);
  EXPECT_DOUBLE_EQ(KernelFirstFraction(hw, true, 2), 0.1);
  EXPECT_DOUBLE_EQ(KernelFirstFraction(hw, true, 3), 0.1);
  EXPECT_DOUBLE_EQ(KernelFirstFraction(hw, true, 8), 0.55);
  EXPECT_DOUBLE_EQ(KernelFirstFraction(hw, false, 4), 0);
  j["compute"]["forward_kernel_first_fraction"]["by_world"] = {{4, 0.5}, {2, 0.1}};
  EXPECT_NE(ErrorOf(j).find("forward_kernel_first_fraction.by_world"), std::string::npos) << ErrorOf(j);
  j["compute"]["forward_kernel_first_fraction"] = {{"by_world", {{2, 0.1}}}};
  EXPECT_NE(ErrorOf(j).find("forward_kernel_first_fraction.source"), std::string::npos) << ErrorOf(j);
}

TEST(SimProfile, CausalBlocksListScheduleTheirUnequalCtas) {
  WaveModel w = SmallWaveModel(1);
  // Forward, q = kv = 1024, no offset: the CTA of q tile i sees keys up to its last row, 2(i+1) tiles of 64: 16, 14,
  // ..., 2, heaviest first. One slot: the CTAs run one after another, sum of R(w).
  double sum = 0;
  for (int t = 2; t <= 16; t += 2) sum += w.RoundUs(t);
  EXPECT_NEAR(w.CausalKernelUs(1024, 1024, 0, 1, 1, 1), sum, 1e-9);
  // Eight slots: all eight CTAs at once, the heaviest decides: R(16) = 20. Two heads on eight slots: head 1's CTAs,
  // heaviest first, go to the slots in the order they free (lightest of head 0 first): the slot that ran 2k+2 tiles
  // then runs 16−2k, and the kernel ends with the latest of those pairs.
  w.sms = 8;
  EXPECT_DOUBLE_EQ(w.CausalKernelUs(1024, 1024, 0, 1, 1, 1), 20);
  double pairs_end = 0;
  for (int k = 0; k < 8; ++k) pairs_end = std::max(pairs_end, w.RoundUs(2 * k + 2) + w.RoundUs(16 - 2 * k));
  EXPECT_NEAR(w.CausalKernelUs(1024, 1024, 0, 2, 1, 1), pairs_end, 1e-9);
  // An offset of -1024 masks everything; +1024 makes every CTA see all 16 tiles.
  EXPECT_DOUBLE_EQ(w.CausalKernelUs(1024, 1024, -1024, 1, 1, 1), 0);
  EXPECT_DOUBLE_EQ(w.CausalKernelUs(1024, 1024, 1024, 1, 1, 1), 20);
  // Backward grid over kv tiles of 128 with 64-row q tiles: the kv tile j sees rows from 128j, 16 − 2j tiles per
  // head of its group (2 query heads per kv head here): 32, 28, ..., 4 -> on eight slots the first decides: R(32).
  w.grid_kv = true;
  w.tile_q = 64;
  w.tile_kv = 128;
  EXPECT_NEAR(w.CausalKernelUs(1024, 1024, 0, 2, 1, 2), w.RoundUs(32), 1e-9);
}

}  // namespace
}  // namespace ringlab::sim
