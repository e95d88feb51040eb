// `ringlab sim` and `sweep` as a new user meets them (issue 15): the default profile is the validated one and --help
// says so; the summary flags memory over the card's capacity and the extrapolated share; --strict fails with exit 2;
// sweep honours its single-value flags or rejects them naming the grid flag, writes the whole configuration in each
// row and exits 1 when a job fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/run_ringlab.h"

namespace {

using ringlab::cli_test::ExpectBadInput;
using ringlab::cli_test::Result;
using ringlab::cli_test::RunRinglab;

const std::string kSmall = "--heads 8 --kv-heads 2 ";

TEST(CliSimHonesty, DefaultProfileIsTheValidatedOneAndHelpSaysSo) {
  Result r = RunRinglab("sim --world 2 --seq 4096 " + kSmall);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("profile h100_sxm_calibrated"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("extrapolated:"), std::string::npos) << r.output;
  for (const char* sub : {"sim", "sweep"}) {
    Result h = RunRinglab(std::string(sub) + " --help");
    EXPECT_NE(h.output.find("validated on held-out real runs"), std::string::npos) << sub << h.output;
    EXPECT_NE(h.output.find("h100_sxm: what-if with cuDNN-rate kernels"), std::string::npos) << sub << h.output;
  }
}

TEST(CliSimHonesty, MemoryOverCapacityIsFlagged) {
  Result r = RunRinglab("sim --world 8 --seq 16777216 --method allgather");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("GiB capacity"), std::string::npos) << r.output;
  Result ok = RunRinglab("sim --world 8 --seq 131072");
  EXPECT_EQ(ok.output.find("GiB capacity"), std::string::npos) << ok.output;
}

TEST(CliSimHonesty, StrictTurnsExtrapolationIntoBadInput) {
  ExpectBadInput("sim --world 2 --seq 4096 --dim 96 --strict " + kSmall, "head dim without a table");
  Result r = RunRinglab("sim --world 2 --seq 4096 --dim 96 " + kSmall);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("head dim without a table"), std::string::npos) << r.output;
}

// Transfers outside the measured NCCL table count too (128 tokens per GPU: below the p2p table), and plan --strict
// fails the layouts that extrapolate (exit 1, each row's error names why).
TEST(CliSimHonesty, StrictCoversTransfersAndPlan) {
  Result r = RunRinglab("sim --world 8 --seq 1024 " + kSmall);
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("transfers extrapolated: 100.0% of bytes"), std::string::npos) << r.output;
  Result plan = RunRinglab("plan --heads 32 --kv-heads 8 --seq 8192 --nodes 1 --workers 1 --strict");
  EXPECT_EQ(plan.code, 1) << plan.output;
  EXPECT_NE(plan.output.find("layouts failed (--strict"), std::string::npos) << plan.output;
  EXPECT_NE(plan.output.find("NCCL table"), std::string::npos) << plan.output;
  EXPECT_EQ(RunRinglab("plan --heads 32 --kv-heads 8 --seq 8192 --nodes 1 --workers 1").code, 0);
}

nlohmann::json SweepRows(const std::string& args, int* code) {
  Result r = RunRinglab("sweep --workers 1 --json - " + args);
  *code = r.code;
  // stdout's JSON array, then stderr's notes (RunRinglab joins them).
  const size_t at = r.output.find('['), end = r.output.rfind(']');
  if (at == std::string::npos || end == std::string::npos) return nlohmann::json::array();
  return nlohmann::json::parse(r.output.substr(at, end - at + 1), nullptr, false);
}

TEST(CliSweepFlags, SingleValueFlagsSetTheGrid) {
  int code = 0;
  const nlohmann::json rows =
      SweepRows("--world 4 --seq 8192 --method allgather --pass backward " + kSmall, &code);
  EXPECT_EQ(code, 0);
  ASSERT_EQ(rows.size(), 1u) << rows.dump();
  EXPECT_EQ(rows[0]["world"], 4);
  EXPECT_EQ(rows[0]["seq"], 8192);
  EXPECT_EQ(rows[0]["method"], "allgather");
  EXPECT_EQ(rows[0]["pass"], "backward");
  // The whole configuration travels with the row.
  EXPECT_EQ(rows[0]["config"]["problem"]["heads"], 8);
  EXPECT_EQ(rows[0]["config"]["sharding"], "head-tail");
  EXPECT_EQ(rows[0]["profile"], "h100_sxm_calibrated");
  EXPECT_TRUE(rows[0].contains("topology"));
  EXPECT_TRUE(rows[0].contains("over_capacity"));
  EXPECT_TRUE(rows[0].contains("extrapolated_share"));
}

TEST(CliSweepFlags, ASingleValueFlagBesideItsListIsRejectedNamingTheList) {
  ExpectBadInput("sweep --world 4 --worlds 2,4 " + kSmall, "--worlds");
  ExpectBadInput("sweep --seq 8192 --seqs 4096 " + kSmall, "--seqs");
  ExpectBadInput("sweep --method allgather --methods alltoall " + kSmall, "--methods");
  ExpectBadInput("sweep --pass backward --passes forward " + kSmall, "--passes");
}

TEST(CliSweepFlags, CsvRowsCarryTheConfiguration) {
  Result r = RunRinglab("sweep --worlds 2 --seqs 4096 --methods alltoall --csv - --workers 1 " + kSmall);
  EXPECT_EQ(r.code, 0) << r.output;
  for (const char* column : {"over_capacity", "memory_capacity_gib", "extrapolated_share",
                             "transfer_extrapolated_share", "profile", "topology", "heads", "kv_heads", "head_dim",
                             "sharding", "variants.pack_kv"})
    EXPECT_NE(r.output.find(column), std::string::npos) << column << "\n" << r.output;
}

TEST(CliSweepFlags, FailedJobsExitOneWithACount) {
  // 1000 tokens cannot be split over 2·W head-tail chunks at W=16 (both methods fail); W=2 works.
  Result some = RunRinglab("sweep --worlds 2,16 --seqs 1000 --csv - --workers 1 " + kSmall);
  EXPECT_EQ(some.code, 1) << some.output;
  EXPECT_NE(some.output.find("2 of 4 jobs failed"), std::string::npos) << some.output;
  Result all = RunRinglab("sweep --worlds 16 --seqs 1000 --csv - --workers 1 " + kSmall);
  EXPECT_EQ(all.code, 1) << all.output;
  EXPECT_NE(all.output.find("jobs failed"), std::string::npos) << all.output;
  Result strict = RunRinglab("sweep --worlds 2 --seqs 4096 --dim 96 --strict --csv - --workers 1 " + kSmall);
  EXPECT_EQ(strict.code, 1) << strict.output;
  EXPECT_NE(strict.output.find("head dim without a table"), std::string::npos) << strict.output;
}

}  // namespace
