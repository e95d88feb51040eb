// Every option and input file is validated with the allowed range in the message (exit 2): enumerated values,
// numbers out of range reported as given, repeated flags, zero where a default was meant, profiles and calibration
// samples with unknown or duplicate keys, and files of the wrong kind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/run_ringlab.h"

namespace {

using ringlab::cli_test::ExpectBadInput;
using ringlab::cli_test::ReadWholeFile;
using ringlab::cli_test::Result;
using ringlab::cli_test::RunRinglab;

const std::string kSim = "sim --world 2 --seq 1024 --heads 8 --kv-heads 2 ";
const std::string kSweep = "sweep --worlds 2 --seqs 1024 --heads 8 --kv-heads 2 ";
const std::string kProfileDir = std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/";

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CliValidation, EnumeratedValues) {
  ExpectBadInput("check --world 2 --seq 64 --pass sideways", "--pass");
  ExpectBadInput(kSim + "--pass sideways", "--pass");
  ExpectBadInput(kSweep + "--passes sideways", "--passes");
  ExpectBadInput(kSweep + "--methods ring", "--methods");
}

TEST(CliValidation, ToleranceMustBeAPositiveFiniteFraction) {
  for (const char* t : {"0", "-1", "nan", "inf", "2"})
    ExpectBadInput(std::string("check --world 2 --seq 64 --tolerance ") + t, "--tolerance");
}

TEST(CliValidation, ZeroIsNotTheDefault) {
  ExpectBadInput(kSim + "--nodes 0", "--nodes");
  ExpectBadInput(kSim + "--gpus-per-node 0", "--gpus-per-node");
  ExpectBadInput(kSweep + "--gpus-per-node 0", "--gpus-per-node");
  ExpectBadInput(kSweep + "-j 0", "--workers");
  ExpectBadInput(kSweep + "-j -3", "--workers");
  ExpectBadInput("schedule --world 2 --seq 64 --ranks -1", "--ranks");
}

TEST(CliValidation, NumbersOutOfRangeAreReportedAsGiven) {
  ExpectBadInput("schedule --seq 1e20", "1e20");
  ExpectBadInput("schedule --seq 99999999999999999999", "99999999999999999999");
  ExpectBadInput("schedule --world 3000000000", "3000000000");
  ExpectBadInput("schedule --heads 0", "--heads");
  ExpectBadInput("sweep --worlds 99999999999 --seqs 1024", "99999999999");
  ExpectBadInput(kSim + "--trace /dev/null --trace-ranks 0,7", "--trace-ranks");
}

TEST(CliValidation, RepeatedFlagsAreBadInput) {
  ExpectBadInput("schedule --world 2 --world 4 --seq 64", "--world");
  ExpectBadInput("schedule --world 2 --seq 64 --causal --no-causal", "--causal");
  ExpectBadInput(kSim + "--json /dev/null --json /dev/null", "--json");
}

TEST(CliValidation, EveryCommittedProfileLoads) {
  for (const auto& e : std::filesystem::directory_iterator(kProfileDir)) {
    Result r = RunRinglab(kSim + "--profile " + e.path().string());
    EXPECT_EQ(r.code, 0) << e.path() << "\n" << r.output;
  }
}

TEST(CliValidation, ProfileUnknownKeyIsNamedWithTheNearestKnownOne) {
  std::string text = ReadWholeFile(kProfileDir + "h100_sxm.json");
  text.replace(text.find("\"nvlink_gbps\""), 13, "\"nvlink_gpbs\"");
  const std::string path = Write("typo_profile.json", text);
  ExpectBadInput(kSim + "--profile " + path, "unknown key network.nvlink_gpbs (did you mean nvlink_gbps?)");
  ExpectBadInput(kSim + "--profile " + path, path);
  nlohmann::json j = nlohmann::json::parse(ReadWholeFile(kProfileDir + "h100_sxm.json"));
  j["colour"] = "blue";
  ExpectBadInput(kSim + "--profile " + Write("extra_profile.json", j.dump()), "unknown key colour");
  j.erase("colour");
  j["compute"]["peak_tflops"]["unit"] = "TFLOP/s";
  ExpectBadInput(kSim + "--profile " + Write("extra_number_key.json", j.dump()), "compute.peak_tflops.unit");
}

TEST(CliValidation, ProfileDuplicateKeyIsNamed) {
  std::string text = ReadWholeFile(kProfileDir + "h100_sxm.json");
  const size_t network = text.find("\"network\": {");
  ASSERT_NE(network, std::string::npos);
  text.insert(network + 12, "\"nic_gbps\": {\"value\": 1, \"source\": \"dup\"}, ");
  const std::string path = Write("dup_profile.json", text);
  ExpectBadInput(kSim + "--profile " + path, "duplicate key network.nic_gbps");
  ExpectBadInput("fit-profile --samples " + Write("one_gap.json", "{\"launch_gaps_us\": [5]}") + " --base " + path +
                     " --out /dev/null",
                 "duplicate key network.nic_gbps");
}

TEST(CliValidation, ProfileThatIsADirectory) { ExpectBadInput(kSim + "--profile " + kProfileDir, "directory"); }

// A fifo no writer opens: refused after core/input_file.h's wait (open() blocked on it for ever); `timeout` bounds the
// run should it block again.
TEST(CliValidation, ProfileFifoWithoutWriterIsRefused) {
  const std::string fifo = ::testing::TempDir() + "ringlab_cli_profile_fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const Result r = ringlab::cli_test::RunShell("timeout 60 " + std::string(RINGLAB_BIN) + " " + kSim + "--profile " +
                                               fifo + " 2>&1");
  ::unlink(fifo.c_str());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("profile " + fifo + ": is a fifo with no writer"), std::string::npos) << r.output;
}

TEST(CliValidation, SamplesFiles) {
  const std::string out = " --out /dev/null";
  ExpectBadInput("fit-profile --samples " + Write("empty_samples.json", "{}") + out, "holds no samples");
  ExpectBadInput("fit-profile --samples " + Write("trace_samples.json", "{\"traceEvents\": []}") + out, "is a trace");
  ExpectBadInput("fit-profile --samples " + kProfileDir + "h100_sxm.json" + out, "hardware profile");
  ExpectBadInput("fit-profile --samples " + Write("typo_samples.json", "{\"launch_gap_us\": [5]}") + out,
                 "unknown key launch_gap_us (did you mean launch_gaps_us?)");
  ExpectBadInput("fit-profile --samples " +
                     Write("kernel_typo.json", "{\"memory\": [{\"kind\": \"copy\", \"bytes\": 1, \"uss\": 2}]}") + out,
                 "unknown key memory[].uss");
  ExpectBadInput("fit-profile --samples " + Write("dup_samples.json", "{\"sms\": 1, \"sms\": 2}") + out,
                 "duplicate key sms");
  ExpectBadInput("fit-profile --samples " + Write("bad_json.json", "{\"sms\": ") + out, "not valid JSON");
  EXPECT_EQ(RunRinglab("fit-profile --samples " + Write("gap.json", "{\"launch_gaps_us\": [5]}") + out).code, 0);
}

TEST(CliValidation, PairsAndListsTakeOnlyWholeNumbersInRange) {
  // --shard i/n: both parts whole numbers, 0 <= i < n <= the sweep's job count (here 1 world x 1 seq x 2 methods).
  for (const char* shard : {"1/1000000000", "2/2", "1x/2", "0/2/3", " 0/2", "/", "0/", "-1/2", "0/+2", "5"})
    ExpectBadInput(kSweep + "--shard '" + std::string(shard) + "'", "--shard");
  EXPECT_EQ(RunRinglab(kSweep + "--shard 1/2 -j 1 --csv /dev/null").code, 0);
  for (const char* worlds : {" 2", "2,+4", "2,4x", "1e3", "99999999999"})
    ExpectBadInput("sweep --seqs 1024 --heads 8 --kv-heads 2 --worlds '" + std::string(worlds) + "'", "--worlds");
  const std::string trace = " --trace " + ::testing::TempDir() + "ranks.json";
  for (const char* ranks : {"0,", "0,0", "2", "-1", "0, 1"})
    ExpectBadInput(kSim + "--trace-ranks '" + std::string(ranks) + "'" + trace, "--trace-ranks");
  ExpectBadInput(kSim + "--trace-ranks 0", "--trace-ranks");  // nothing to put them in without --trace
}

TEST(CliValidation, PlanChecksEveryNumberItsWorldAndItsOutput) {
  for (const char* flag : {"--heads", "--kv-heads", "--dim", "--seq", "--batch", "--nodes", "--gpus-per-node"})
    for (const char* v : {"0", "-1", "abc"}) ExpectBadInput(std::string("plan ") + flag + " " + v, flag);
  ExpectBadInput("plan --workers -5", "--workers");
  ExpectBadInput("plan --gpus-per-node 65536 --nodes 65536", "world");
  ExpectBadInput("plan --gpus-per-node 2147483647", "memory");  // was a division by zero (SIGFPE)
  Result full = RunRinglab("plan --heads 8 --kv-heads 8 --seq 4096 --nodes 1 --gpus-per-node 2 --json /dev/full");
  EXPECT_EQ(full.code, 2) << full.output;
  EXPECT_NE(full.output.find("cannot write /dev/full"), std::string::npos) << full.output;
}

TEST(CliValidation, BalanceStepCostsComeFromAProfileOrBothWhatIfRates) {
  const std::string balance = "balance --seq 65536 --world 8 --mask causal+docs-synthetic:uniform ";
  ExpectBadInput(balance + "--tflops 400", "--link-gbps");  // one rate alone is neither the profile nor a what-if
  ExpectBadInput(balance + "--link-gbps -3 --tflops 400", "--link-gbps");  // the flag out of its range
  ExpectBadInput(balance + "--profile no_such_profile", "no_such_profile");
  Result profiled = RunRinglab(balance + "--json -");
  ASSERT_EQ(profiled.code, 0) << profiled.output;
  const std::string doc = profiled.output.substr(profiled.output.find('{'));
  EXPECT_EQ(nlohmann::json::parse(doc)["step_costs"]["profile"], "h100_sxm_calibrated");
  // The executable shardings are event-simulated: one row each, the fastest marked.
  const nlohmann::json sims = nlohmann::json::parse(doc)["simulated_shardings"];
  ASSERT_EQ(sims.size(), 3u);
  double fastest = 1e300;
  for (const auto& r : sims) fastest = std::min(fastest, r["step_us"].get<double>());
  for (const auto& r : sims) EXPECT_EQ(r["chosen"].get<bool>(), r["step_us"].get<double>() == fastest) << r.dump();
  Result what_if = RunRinglab(balance + "--tflops 400 --link-gbps 25 --json -");
  ASSERT_EQ(what_if.code, 0) << what_if.output;
  EXPECT_EQ(nlohmann::json::parse(what_if.output.substr(what_if.output.find('{')))["step_costs"]["tflops"], 400);
}

// A value twice in a list flag ran its configurations twice (`plan --methods alltoall,alltoall`), and "0064" read as
// 64: both are refused in one line naming the flag, in every list (and integer) flag.
TEST(CliValidation, ListFlagsRefuseDuplicatesAndLeadingZeros) {
  const std::string plan = "plan --heads 8 --kv-heads 2 --seq 4096 --nodes 1 --gpus-per-node 2 ";
  ExpectBadInput(plan + "--methods alltoall,alltoall", "'alltoall' is listed twice");
  ExpectBadInput(plan + "--shardings head-tail,contiguous,head-tail", "--shardings");
  ExpectBadInput(kSweep + "--methods allgather,allgather", "--methods");
  ExpectBadInput(kSweep + "--passes forward,forward", "--passes");
  ExpectBadInput("sweep --worlds 2,4,2 --seqs 1024", "--worlds '2,4,2': '2' is listed twice");
  ExpectBadInput("sweep --worlds 2 --seqs 1024,1024", "--seqs");
  ExpectBadInput("sweep --worlds 02 --seqs 1024", "--worlds '02': '02' has a leading zero");
  ExpectBadInput("sweep --worlds 2 --seqs 1024,01024", "--seqs");
  ExpectBadInput(kSim + "--trace /dev/null --trace-ranks 0,01", "--trace-ranks");
  ExpectBadInput("balance --seq 1024 --world 2,2 --mask causal+docs-synthetic:uniform", "--world");
  ExpectBadInput("balance --seq 1024 --world 002 --mask causal+docs-synthetic:uniform", "--world");
  ExpectBadInput("balance --seq 1024 --world +2 --mask causal+docs-synthetic:uniform", "--world");
  ExpectBadInput("calibrate --dry-run --head-dims 0064", "--head-dims");
  ExpectBadInput("schedule --world 2 --seq 0064", "--seq");  // single integer flags take the same rule
  ExpectBadInput("schedule --world 2 --seq -064", "--seq");
  // 0 itself, and lists without repeats, stay fine.
  EXPECT_EQ(RunRinglab(kSim + "--trace /dev/null --trace-ranks 0,1").code, 0);
  EXPECT_EQ(RunRinglab("sweep --worlds 2,4 --seqs 1024 --methods alltoall,allgather -j 1 --csv /dev/null").code, 0);
  EXPECT_EQ(RunRinglab("check --world 2 --seq 64 --seed 0").code, 0);
}

}  // namespace
