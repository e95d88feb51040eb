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
  EXPECT_EQ(hw.name, "h100_sxm");
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

TEST(SimProfile, BadTablePointIsNamed) {
  nlohmann::json j = Bundled("h100_sxm");
  j["compute"]["attention"][1]["points"][1][0] = 1;  // tokens must increase
  EXPECT_NE(ErrorOf(j).find("compute.attention[1].points[1]"), std::string::npos) << ErrorOf(j);
  j = Bundled("h100_sxm");
  j["compute"]["attention"][0]["mask"] = "sliding";
  EXPECT_NE(ErrorOf(j).find("compute.attention[0].mask"), std::string::npos) << ErrorOf(j);
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

}  // namespace
}  // namespace ringlab::sim
