// Exit codes of every `ringlab` subcommand (apps/exit_codes.h): 0 ok, 1 a check failed, 2 bad input, 3 runtime error,
// and the section of every --help that lists them. `run` is tested where the binary has it (CUDA builds), `calibrate`
// everywhere (without CUDA it has only its plan); a check failure is tested where a command line can cause one
// (`check`; cli_test.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli/run_ringlab.h"

namespace {

using ringlab::cli_test::ExpectBadInput;
using ringlab::cli_test::Result;
using ringlab::cli_test::RunRinglab;

// An output path no process can create: bad input (2), the line names the file.
const char kUnwritable[] = "/nonexistent-ringlab-dir/out.json";

void ExpectExit(const std::string& args, int code) {
  Result r = RunRinglab(args);
  EXPECT_EQ(r.code, code) << args << "\n" << r.output;
  if (code >= 2) EXPECT_NE(r.output.find("ringlab: error:"), std::string::npos) << args << "\n" << r.output;
}

// The subcommands `ringlab --help` lists (its "Subcommands:" section: one per line, the name first).
std::vector<std::string> ListedSubcommands() {
  std::istringstream help(RunRinglab("--help").output);
  std::vector<std::string> names;
  bool in_section = false;
  for (std::string line; std::getline(help, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_section = true;
    } else if (in_section) {
      if (line.size() < 3 || line[0] != ' ' || line[2] == ' ') break;
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
    }
  }
  return names;
}

bool Has(const std::string& subcommand) {
  for (const std::string& s : ListedSubcommands())
    if (s == subcommand) return true;
  return false;
}

TEST(CliExitCodes, TopLevelHelpListsThem) {
  Result r = RunRinglab("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.output.find("Exit codes:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3  runtime error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("an output that cannot be written"), std::string::npos) << r.output;
}

TEST(CliExitCodes, EverySubcommandsHelpListsThem) {
  const std::vector<std::string> subs = ListedSubcommands();
  for (const char* expected : {"schedule", "check", "sim", "sweep", "view", "fit-profile"})
    EXPECT_NE(std::find(subs.begin(), subs.end(), expected), subs.end()) << expected;
  for (const std::string& sub : subs) {
    Result r = RunRinglab(sub + " --help");
    EXPECT_EQ(r.code, 0) << sub << "\n" << r.output;
    EXPECT_NE(r.output.find("Exit codes:"), std::string::npos) << sub << "\n" << r.output;
    EXPECT_NE(r.output.find("2  bad input"), std::string::npos) << sub << "\n" << r.output;
  }
}

TEST(CliExitCodes, UnknownSubcommandIsBadInput) { ExpectBadInput("frobnicate", "frobnicate"); }

TEST(CliExitCodes, Schedule) {
  ExpectExit("schedule --world 2 --seq 64", 0);
  ExpectBadInput("schedule --method ring", "--method");
  ExpectExit("schedule --world 2 --seq 64 --json " + std::string(kUnwritable), 2);
}

TEST(CliExitCodes, Check) {
  ExpectExit("check --world 2 --seq 64", 0);
  ExpectExit("check --world 2 --seq 64 --precision fp32 --tolerance 1e-15", 1);
  ExpectBadInput("check --precision fp8", "--precision");
  ExpectExit("check --world 2 --seq 64 --trace " + std::string(kUnwritable), 2);
}

TEST(CliExitCodes, Sim) {
  const std::string small = "sim --world 2 --seq 1024 --heads 8 --kv-heads 2 ";
  ExpectExit(small, 0);
  ExpectBadInput(small + "--placement diagonal", "--placement");
  ExpectBadInput(small + "--profile no_such_profile", "no_such_profile");
  ExpectExit(small + "--json " + kUnwritable, 2);
  ExpectExit(small + "--trace " + kUnwritable, 2);
}

TEST(CliExitCodes, Sweep) {
  const std::string small = "sweep --worlds 2 --seqs 1024 --heads 8 --kv-heads 2 --workers 1 ";
  ExpectExit(small + "--csv -", 0);
  ExpectBadInput(small + "--worlds two", "--worlds");
  ExpectExit(small + "--csv " + kUnwritable, 2);
}

TEST(CliExitCodes, FitProfile) {
  const std::string samples = ::testing::TempDir() + "no_samples.json", bad = ::testing::TempDir() + "bad_sms.json";
  std::ofstream(samples) << "{\"launch_gaps_us\": [5]}\n";  // one sample: every other number stays the base's
  std::ofstream(bad) << "{\"sms\": 0}\n";
  const std::string out = ::testing::TempDir() + "fitted.json";
  ExpectExit("fit-profile --samples " + samples + " --out " + out, 0);
  EXPECT_TRUE(std::ifstream(out).good());
  ExpectBadInput("fit-profile --samples " + bad + " --out " + out, "sms");
  ExpectBadInput("fit-profile --samples /nonexistent/samples.json --out " + out, "--samples");
  ExpectExit("fit-profile --samples " + samples + " --out " + kUnwritable, 2);
}

TEST(CliExitCodes, View) {
  // Bad input (a missing trace, or no viewer in this build) is cli_test.cc's; --help works either way.
  Result r = RunRinglab("view --help");
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(CliExitCodes, Run) {
  if (!Has("run")) GTEST_SKIP() << "this ringlab is built without CUDA";
  const std::string small = "run --gpus 1 --seq 256 --heads 2 --kv-heads 2 --dim 64 --iters 1 --warmup 0 ";
  ExpectBadInput(small + "--method ring", "--method");
  // Every flag and output is checked before the GPUs: 2 on any machine.
  ExpectExit(small + "--json " + kUnwritable, 2);
  ExpectBadInput(small + "--iters 0", "--iters");
  Result r = RunRinglab(small);
  if (r.code == 3 && r.output.find("visible") != std::string::npos) GTEST_SKIP() << "no GPU: " << r.output;
  EXPECT_EQ(r.code, 0) << r.output;
}

TEST(CliExitCodes, Calibrate) {
  ASSERT_TRUE(Has("calibrate"));  // every build: its plan needs no GPU
  ExpectExit("calibrate --dry-run --quick", 0);
  ExpectExit("calibrate --dry-run --head-dims 256", 0);
  ExpectExit("calibrate --coverage-shapes --head-dims 64,256", 0);
  ExpectBadInput("calibrate --dry-run --head-dims 96", "--head-dims");
  ExpectBadInput("calibrate --dry-run --head-dims 128,128", "--head-dims");
  ExpectBadInput("calibrate --coverage-shapes --head-dims 64,", "--head-dims");
  ExpectBadInput("calibrate --reps 0", "--reps");
  ExpectBadInput("calibrate --skip-kernels", "--out");
  // No folder to write the profile to: bad input (2), found before any GPU is asked for.
  ExpectExit("calibrate --skip-kernels --skip-comm --out " + std::string(kUnwritable), 2);
}

}  // namespace
