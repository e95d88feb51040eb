// Requests larger than this process's memory or thread limits are refused before allocating (exit 2, one line with
// the estimate and the limit), never an abort; and logging: -v/-q on every subcommand, progress lines on stderr
// when it is not a terminal.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <chrono>
#include <string>

#include "tests/cli/run_ringlab.h"

namespace {

using ringlab::cli_test::Result;
using ringlab::cli_test::RunRinglab;
using ringlab::cli_test::RunSplit;
using ringlab::cli_test::SplitResult;

// Exit 2 with the estimate ("needs about") and the limit ("may use"), under the shell prefix (e.g. a ulimit).
void ExpectTooLarge(const std::string& args, const std::string& prefix = "") {
  SplitResult r = RunSplit(args, prefix);
  EXPECT_EQ(r.code, 2) << prefix << " " << args << "\n" << r.err;
  EXPECT_NE(r.err.find("needs about"), std::string::npos) << args << "\n" << r.err;
  EXPECT_NE(r.err.find("may "), std::string::npos) << args << "\n" << r.err;
}

TEST(CliLimits, HugeRequestsAreRefusedWithTheEstimateAndTheLimit) {
  ExpectTooLarge("schedule --world 1000000000 --seq 2000000000");
  ExpectTooLarge("sim --world 1000000000 --seq 2000000000");
  ExpectTooLarge("sweep --worlds 1000000000 --seqs 2000000000 -j 1");
}

TEST(CliLimits, UnderAnAddressSpaceLimit) {
  if (ringlab::cli_test::kUnderAddressSanitizer) GTEST_SKIP() << ringlab::cli_test::kNoUlimitUnderAsan;
  const std::string limit = "ulimit -v 10000000;";  // 10 GB
  ExpectTooLarge("schedule --world 16384 --seq 1048576", limit);
  ExpectTooLarge("schedule --world 4096 --seq 1048576 --json /dev/null", limit);
  // The CPU executor's threads (a thread per rank and stream) reserve their stacks (--force: past the CPU-time guard,
  // which counts a head dim of 8 as 64).
  ExpectTooLarge("check --world 1024 --seq 32768 --heads 1 --kv-heads 1 --dim 8 --force", "ulimit -v 4000000;");
  // A balanced sharding under documents compiles every rank whole (O(W²)): refused before compiling.
  ExpectTooLarge("sim -q --world 16384 --seq 16777216 --sharding balanced --mask causal+docs-synthetic:pretrain-mix",
                 limit);
}

TEST(CliLimits, NeverAnAbort) {
  if (ringlab::cli_test::kUnderAddressSanitizer) GTEST_SKIP() << ringlab::cli_test::kNoUlimitUnderAsan;
  for (const std::string& args :
       std::vector<std::string>{"schedule --world 65536 --seq 131072", "sim --world 100000 --seq 200000",
                                "sim --world 16384 --seq 1048576 --sharding contiguous --method allgather",
                                "check --world 512 --seq 1024 --heads 1 --kv-heads 1 --dim 8"}) {
    SplitResult r = RunSplit(args, "ulimit -v 2000000;");
    EXPECT_LT(r.code, 128) << args << "\n" << r.err;
    if (r.code != 0) EXPECT_NE(r.err.find("ringlab: error:"), std::string::npos) << args << "\n" << r.err;
  }
}

// The memory pre-check follows the path that runs (O(W) programs and state): W = 65536 all-gather takes the phased
// run (sim/README.md "Large W") in about a CPU-second and under 200 MiB, so `ringlab sim` runs it.
TEST(CliLimits, SimAtW65536WithAFastPathRuns) {
  if (ringlab::cli_test::kUnderAddressSanitizer) GTEST_SKIP() << ringlab::cli_test::kNoUlimitUnderAsan;
  const auto t0 = std::chrono::steady_clock::now();
  SplitResult r = RunSplit("sim -q --world 65536 --seq 8388608 --method allgather --json -", "ulimit -v 2000000;");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& run = j.is_array() ? j[0] : j.contains("runs") ? j["runs"][0] : j;
  EXPECT_EQ(run["config"]["world"], 65536) << r.out.substr(0, 400);
  EXPECT_TRUE(run["phased_run"].get<bool>()) << r.out.substr(0, 400);
  EXPECT_GT(run["step_time_us"].get<double>(), 0);
  EXPECT_LT(wall, 120) << "a fast path at W=65536 should take seconds";
}

// Ring pass-KV with the calibrated profile's distinct rank programs at W = 65536: the rank-range run (sim/range_run.h),
// seconds and little memory, where the general engine would take over an hour.
TEST(CliLimits, SimRingAtW65536TakesTheRankRangeRun) {
  const auto t0 = std::chrono::steady_clock::now();
  SplitResult r = RunSplit("sim -q --world 65536 --seq 8388608 --method alltoall --pass forward --json -",
                           "ulimit -v 2000000;");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& run = j.is_array() ? j[0] : j.contains("runs") ? j["runs"][0] : j;
  EXPECT_TRUE(run["range_run"].get<bool>()) << r.out.substr(0, 400);
  EXPECT_GT(run["step_time_us"].get<double>(), 0);
  EXPECT_LT(wall, 120) << "the rank-range run at W=65536 should take seconds";
}

// A run that must take the general engine for hours is refused up front: exit 2, one line naming --world and --seq,
// the op count and the cap, and what to do (never a hang or an abort).
TEST(CliLimits, SimThatWouldTakeHoursIsRefusedInOneLine) {
  // -q: no progress line (it starts after 2 s when stderr is not a terminal; compiling W = 100000 takes seconds).
  // Contiguous sharding: no exact fast path (head-tail forward at this size takes the rank-range run, in seconds,
  // traced or not), so a traced run of two ranks is refused too.
  for (const std::string& args :
       {std::string("sim -q --world 100000 --seq 200000 --sharding contiguous"),
        std::string("sim -q --world 100000 --seq 200000 --sharding contiguous --trace /dev/null --trace-ranks 0,1")}) {
    SplitResult r = RunSplit(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("ringlab: error: --world 100000 --seq 200000: this run takes the general engine"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("more than the cap"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  }
}

TEST(CliLogging, QuietAndVerboseOnEverySubcommand) {
  const std::string path = ::testing::TempDir() + "logged.json";
  SplitResult normal = RunSplit("schedule --world 2 --seq 64 --json " + path);
  EXPECT_NE(normal.err.find("wrote " + path), std::string::npos) << normal.err;
  SplitResult quiet = RunSplit("schedule -q --world 2 --seq 64 --json " + path);
  EXPECT_EQ(quiet.code, 0);
  EXPECT_TRUE(quiet.err.empty()) << quiet.err;
  SplitResult verbose = RunSplit("schedule -v --world 2 --seq 64 --json " + path);
  EXPECT_NE(verbose.err.find("debug"), std::string::npos) << verbose.err;
  for (const char* sub : {"schedule", "check", "sim", "sweep", "fit-profile"}) {
    Result r = RunRinglab(std::string(sub) + " --help");
    EXPECT_NE(r.output.find("--quiet"), std::string::npos) << sub;
    EXPECT_NE(r.output.find("--verbose"), std::string::npos) << sub;
  }
  Result both = RunRinglab("schedule -v -q --world 2 --seq 64");
  EXPECT_EQ(both.code, 2) << both.output;
}

TEST(CliLogging, ProgressLinesWhenStderrIsNotATerminal) {
  // Lines from the start (the 2 s of silence is for people; a fast machine finishes this sweep sooner).
  setenv("RINGLAB_PROGRESS_AFTER_S", "0", 1);
  const std::string sweep =
      "sweep --worlds 512,1024 --seqs 1048576,2097152 --sharding contiguous --heads 8 "
      "--kv-heads 2 --methods alltoall -j 1 --csv /dev/null";
  SplitResult r = RunSplit(sweep);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("sweep: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("elapsed, ETA"), std::string::npos) << r.err;
  SplitResult quiet = RunSplit(sweep + " -q");
  EXPECT_EQ(quiet.err.find("elapsed"), std::string::npos) << quiet.err;
  unsetenv("RINGLAB_PROGRESS_AFTER_S");
}

TEST(CliLogging, ProgressOfOneLongSimOrCheckOnStderrWithJsonOnStdout) {
  // One configuration: the lines come from inside it (engine ops, executor ops), with a share done and an ETA.
  setenv("RINGLAB_PROGRESS_AFTER_S", "0", 1);
  struct Case {
    std::string args, label;
  };
  for (const Case& c : {Case{"sim --world 64 --seq 65536 --sharding contiguous --json -", "sim: "},
                        Case{"check --world 2 --seq 512 --heads 2 --kv-heads 2 --dim 32 --pass forward --trace -", "check: "}}) {
    SplitResult r = RunSplit(c.args);
    ASSERT_EQ(r.code, 0) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find("ringlab: " + c.label), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find("of 1 configurations done), "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" elapsed, ETA "), std::string::npos) << r.err;
    EXPECT_TRUE(nlohmann::json::accept(r.out)) << c.args << ": stdout is not only JSON:\n" << r.out.substr(0, 300);
    SplitResult quiet = RunSplit(c.args + " -q");
    EXPECT_EQ(quiet.err.find("elapsed"), std::string::npos) << quiet.err;
  }
  unsetenv("RINGLAB_PROGRESS_AFTER_S");
}

}  // namespace
