// The ringlab CLI: every bad input gets one clear line naming the field, exit code 2, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/run_ringlab.h"

namespace {

using ringlab::cli_test::ExpectBadInput;
using ringlab::cli_test::Result;
using ringlab::cli_test::RunRinglab;

TEST(CliBadInput, KvHeadsThatDoNotDivideHeads) { ExpectBadInput("schedule --heads 32 --kv-heads 5", "kv-heads"); }
TEST(CliBadInput, SeqNotDivisibleByTwiceTheWorld) { ExpectBadInput("schedule --seq 1000 --world 16", "2*world"); }
TEST(CliBadInput, SeqNotDivisibleByTheWorld) {
  ExpectBadInput("schedule --seq 1000 --world 3 --sharding contiguous", "world = 3");
}
TEST(CliBadInput, LoadBalancingWithoutCausal) {
  ExpectBadInput("schedule --no-causal --sharding head-tail", "needs --causal");
  ExpectBadInput("schedule --mask full --sharding head-tail", "needs --causal");
}

// Without --sharding, full attention (nothing causal to balance) takes the contiguous layout instead of a refusal;
// causal keeps head-tail.
TEST(CliDefaults, FullAttentionDefaultsToContiguous) {
  for (const char* mask : {"--no-causal", "--mask full", "--mask full+window:64,64"}) {
    Result r = RunRinglab(std::string("schedule --world 2 --seq 512 --heads 2 --kv-heads 1 --json - ") + mask);
    ASSERT_EQ(r.code, 0) << mask << ": " << r.output;
    EXPECT_NE(r.output.find("\"contiguous\""), std::string::npos) << mask << ": " << r.output.substr(0, 400);
  }
  Result causal = RunRinglab("schedule --world 2 --seq 512 --heads 2 --kv-heads 1 --json -");
  ASSERT_EQ(causal.code, 0) << causal.output;
  EXPECT_NE(causal.output.find("\"head-tail\""), std::string::npos) << causal.output.substr(0, 400);
}
TEST(CliBadInput, UnknownMethod) { ExpectBadInput("schedule --method ring", "--method"); }
TEST(CliBadInput, UnknownSharding) { ExpectBadInput("schedule --sharding striped", "--sharding"); }
TEST(CliBadInput, UnknownPass) { ExpectBadInput("schedule --pass sideways", "--pass"); }
TEST(CliBadInput, UnknownDtype) { ExpectBadInput("schedule --dtype int8", "--dtype"); }
TEST(CliBadInput, NotANumber) { ExpectBadInput("schedule --world abc", "--world"); }
TEST(CliBadInput, ZeroWorld) { ExpectBadInput("schedule --world 0", "world"); }
TEST(CliBadInput, NegativeHeadDim) { ExpectBadInput("schedule --dim -4", "dim"); }
TEST(CliBadInput, CheckTooLargeForTheCpu) { ExpectBadInput("check --seq 131072 --heads 32 --kv-heads 8", "--seq"); }
TEST(CliBadInput, CheckUnknownPrecision) { ExpectBadInput("check --precision fp8", "--precision"); }
TEST(CliBadInput, NoSubcommand) { EXPECT_EQ(RunRinglab("").code, 2); }

TEST(CliHelp, EverySubcommandHasHelp) {
  for (const char* sub : {"schedule", "check"}) {
    Result r = RunRinglab(std::string(sub) + " --help");
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_NE(r.output.find("--world"), std::string::npos) << r.output;
  }
}

TEST(CliSchedule, WritesValidJsonWithEveryRank) {
  const std::string path = ::testing::TempDir() + "schedule.json";
  Result r = RunRinglab("schedule --world 4 --seq 512 --json " + path);
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream f(path);
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["config"]["world"], 4);
  EXPECT_EQ(j["ranks"].size(), 4u);
  EXPECT_EQ(j["ranks"][0]["ops"][0]["kind"], "send");
}

TEST(CliCheck, PassesAndWritesTracesForBothMethods) {
  const std::string path = ::testing::TempDir() + "check.json";
  Result r = RunRinglab("check --method both --world 3 --seq 96 --trace " + path);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("PASS"), std::string::npos);
  EXPECT_TRUE(std::ifstream(::testing::TempDir() + "check.alltoall.json").good());
  EXPECT_TRUE(std::ifstream(::testing::TempDir() + "check.allgather.backward.json").good());
}

TEST(CliCheck, ImpossibleToleranceFailsWithExitCodeOne) {
  Result r = RunRinglab("check --world 2 --seq 64 --precision fp32 --tolerance 1e-15");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos);
}

TEST(CliView, HandsOverToTheViewerWhichNamesAMissingFile) {
  Result r = RunRinglab("view /nonexistent/trace.json");
  EXPECT_EQ(r.code, 2) << r.output;
  // Either the viewer ran and named the file, or it is not built and the CLI says how to get it.
  EXPECT_TRUE(r.output.find("/nonexistent/trace.json") != std::string::npos ||
              r.output.find("cannot start the viewer") != std::string::npos)
      << r.output;
}

}  // namespace

namespace {

TEST(CliUlysses, LayoutErrorsAreOneLineFromTheValidator) {
  ExpectBadInput("schedule --world 8 --ulysses 3", "ulysses U=3 must divide world");
  ExpectBadInput("schedule --world 8 --ulysses 2 --ring 2", "ring R=2");
  ExpectBadInput("schedule --world 8 --heads 12 --kv-heads 4 --ulysses 8", "must divide heads");
  ExpectBadInput("schedule --world 8 --ulysses 2 --placement diagonal", "--ulysses-placement 'diagonal'");
  // In sim and sweep --placement is the rank-to-GPU placement: the message names the Ulysses flag.
  ExpectBadInput("sim --world 8 --ulysses 2 --ulysses-placement diagonal", "--ulysses-placement 'diagonal'");
}

TEST(CliUlysses, CheckAndSimRunAHybrid) {
  Result c = RunRinglab("check --world 4 --ulysses 2 --placement strided --seq 64 --heads 4 --kv-heads 2 --pass both");
  EXPECT_EQ(c.code, 0) << c.output;
  EXPECT_NE(c.output.find("PASS"), std::string::npos) << c.output;
  Result s = RunRinglab("sim --world 16 --ulysses 4 --ulysses-placement strided --seq 65536 --json -");
  ASSERT_EQ(s.code, 0) << s.output;
  EXPECT_NE(s.output.find("\"alltoall_cost\": \"extrapolated\""), std::string::npos) << s.output;
}

TEST(CliPlan, RanksEveryLayoutAndWritesJson) {
  Result r = RunRinglab("plan --heads 32 --kv-heads 8 --seq 16384 --gpus-per-node 8 --nodes 2 --json -");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["world"], 16);
  // U ∈ {1, 2, 4, 8, 16}: 1 → 2 methods × 2 shardings; 2, 4, 8 → × 2 placements; 16 (pure Ulysses) → 1.
  EXPECT_EQ(j["rows"].size(), 4u + 3 * 8 + 1);
  // Simulated rows by step time, then the pruned ones by their bound, every bound above the winner's step.
  double last = 0;
  bool pruned = false;
  for (const auto& row : j["rows"]) {
    if (row["pruned"].get<bool>() && !pruned) last = 0;
    pruned = pruned || row["pruned"].get<bool>();
    EXPECT_EQ(row["pruned"].get<bool>(), pruned) << "a simulated row after a pruned one";
    const double t = pruned ? row["step_ms_lower_bound"].get<double>() : row["step_ms"].get<double>();
    EXPECT_GE(t, last);
    if (pruned) EXPECT_GT(t, j["rows"][0]["step_ms"].get<double>());
    last = t;
  }
  EXPECT_NE(j["best_reason"].get<std::string>().find("wins"), std::string::npos);
  Result all = RunRinglab("plan --heads 32 --kv-heads 8 --seq 16384 --gpus-per-node 8 --nodes 2 --exhaustive --json -");
  ASSERT_EQ(all.code, 0) << all.output;
  const nlohmann::json e = nlohmann::json::parse(all.output);
  EXPECT_EQ(e["pruned"], 0);
  EXPECT_EQ(e["rows"][0]["layout"], j["rows"][0]["layout"]);
  EXPECT_EQ(e["rows"][0]["step_ms"], j["rows"][0]["step_ms"]);
  Result help = RunRinglab("plan --help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("Examples"), std::string::npos);
  ExpectBadInput("plan --methods ring", "--methods");
}

}  // namespace
