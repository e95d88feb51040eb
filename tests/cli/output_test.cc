// Every file the CLI writes is whole or absent (core/output_file.h): failed writes of every kind exit 2 naming the
// file and leave nothing behind, several outputs of one run are all written or none, '-' is stdout for every output
// flag and carries only that output, concurrent writers each leave a whole file, and the one naming rule for
// multi-config outputs.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tests/cli/run_ringlab.h"

namespace {

using ringlab::cli_test::ReadWholeFile;
using ringlab::cli_test::Result;
using ringlab::cli_test::RunRinglab;
using ringlab::cli_test::RunSplit;
using ringlab::cli_test::SplitResult;

const std::string kSim = "sim --world 2 --seq 1024 --heads 8 --kv-heads 2 ";
const std::string kSweep = "sweep --worlds 2 --seqs 1024 --heads 8 --kv-heads 2 -j 1 ";
const std::string kCheck = "check --world 2 --seq 64 --pass forward ";

// A fresh empty folder for one test.
std::string Folder(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "ringlab_out_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<std::string> Files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

// Exit 2, one line naming `file`, and no file (nor temporary) left in `dir`.
void ExpectCannotWrite(const std::string& args, const std::string& file, const std::string& dir = "") {
  Result r = RunRinglab(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
  EXPECT_NE(r.output.find("ringlab: error: cannot write " + file), std::string::npos) << args << "\n" << r.output;
  if (!dir.empty()) EXPECT_TRUE(Files(dir).empty()) << args << ": left " << Files(dir).front();
}

TEST(CliOutputs, DevFullIsAnErrorForEveryOutputFlag) {
  for (const std::string& args : std::vector<std::string>{
           "schedule --world 2 --seq 64 --json /dev/full", kSim + "--json /dev/full", kSim + "--trace /dev/full",
           kCheck + "--trace /dev/full", kSweep + "--csv /dev/full", kSweep + "--json /dev/full"})
    ExpectCannotWrite(args, "/dev/full");
}

TEST(CliOutputs, StdoutThatCannotBeWrittenIsAnError) {
  SplitResult r = RunSplit(kSim + "--json - >/dev/full");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot write - (stdout)"), std::string::npos) << r.err;
}

TEST(CliOutputs, MissingFolderDirectoryAndFileAsFolder) {
  const std::string dir = Folder("bad_targets");
  std::ofstream(dir + "/plain") << "x";
  for (const std::string& target : std::vector<std::string>{dir + "/missing/out.json", dir + "/plain/out.json"})
    for (const std::string& args :
         std::vector<std::string>{"schedule --world 2 --seq 64 --json " + target, kSim + "--trace " + target,
                                  kSweep + "--csv " + target, kCheck + "--trace " + target})
      ExpectCannotWrite(args, target);
  ExpectCannotWrite(kSim + "--json " + dir, dir);  // a directory as the target
  // ... also where the run writes several files named after it: they landed beside the folder
  // ("DIR.allgather.forward"), exit 0 (scripts/robustness found it).
  ExpectCannotWrite(kSim + "--method both --trace " + dir, dir);
  ExpectCannotWrite(kSim + "--pass both --trace " + dir, dir);
  ExpectCannotWrite("check --world 2 --seq 64 --pass both --trace " + dir, dir);
  EXPECT_EQ(Files(dir).size(), 1u);                // only "plain"
  EXPECT_FALSE(std::filesystem::exists(dir + ".allgather.forward"));
}

TEST(CliOutputs, UnwritableFolder) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into any folder";
  const std::string dir = Folder("read_only");
  ::chmod(dir.c_str(), 0555);
  ExpectCannotWrite(kSim + "--json " + dir + "/out.json", dir + "/out.json", dir);
  ::chmod(dir.c_str(), 0755);
}

TEST(CliOutputs, SeveralOutputsAreAllWrittenOrNone) {
  const std::string dir = Folder("all_or_none");
  ExpectCannotWrite(kSim + "--trace " + dir + "/t.json --json /dev/full", "/dev/full", dir);
  ExpectCannotWrite(kSweep + "--csv " + dir + "/rows.csv --json /dev/full", "/dev/full", dir);
  ExpectCannotWrite("check --world 2 --seq 64 --method both --trace " + dir + "/missing/t.json", dir + "/missing");
  EXPECT_TRUE(Files(dir).empty());
  // An existing file is left as it was when the run fails.
  std::ofstream(dir + "/t.json") << "old";
  ExpectCannotWrite(kSim + "--trace " + dir + "/t.json --json /dev/full", "/dev/full");
  EXPECT_EQ(ReadWholeFile(dir + "/t.json"), "old");
  EXPECT_EQ(Files(dir).size(), 1u);
}

TEST(CliOutputs, SpecialFilesAreWrittenInPlace) {
  EXPECT_EQ(RunRinglab(kSim + "--json /dev/null --trace /dev/null").code, 0);
  EXPECT_EQ(RunRinglab(kSweep + "--csv /dev/null").code, 0);
  SplitResult r = RunSplit(kSim + "--json /dev/stdout");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::accept(r.out.substr(r.out.find('{')))) << r.out;
}

TEST(CliOutputs, DashIsStdoutForEveryOutputFlagAndCarriesOnlyThatOutput) {
  for (const std::string& args :
       std::vector<std::string>{kSim + "--json -", kSim + "--trace -", kSweep + "--json -",
                                "schedule --world 2 --seq 64 --json -", kCheck + "--trace -",
                                // balance printed its table on stdout ahead of the JSON
                                "balance --world 2 --seq 4096 --simulate-up-to 2 --json -",
                                "plan --heads 8 --kv-heads 2 --seq 4096 --gpus-per-node 2 --workers 1 --json -"}) {
    SplitResult r = RunSplit(args);
    EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
    EXPECT_TRUE(nlohmann::json::accept(r.out)) << args << "\n" << r.out;
    EXPECT_FALSE(std::filesystem::exists("-"));
  }
  SplitResult csv = RunSplit(kSweep + "--csv -");
  EXPECT_EQ(csv.out.rfind("world,", 0), 0u) << csv.out;
  // As sim/README.md shows.
  Result piped = RunRinglab(kSim + "--json - 2>/dev/null | python3 -m json.tool >/dev/null; exit $?");
  EXPECT_EQ(piped.code, 0) << piped.output;
}

TEST(CliOutputs, WroteLinesAndHumanTextGoToStderrWhenStdoutIsAnOutput) {
  const std::string dir = Folder("wrote");
  for (const std::string& args :
       std::vector<std::string>{"schedule --world 2 --seq 64 --json " + dir + "/s.json",
                                kSim + "--trace " + dir + "/t.json", kSweep + "--csv " + dir + "/r.csv"}) {
    SplitResult r = RunSplit(args);
    EXPECT_EQ(r.code, 0) << args << r.err;
    EXPECT_EQ(r.out.find("wrote"), std::string::npos) << args << "\n" << r.out;
    EXPECT_NE(r.err.find("wrote " + dir), std::string::npos) << args << "\n" << r.err;
  }
  SplitResult r = RunSplit(kSim + "--json -");
  EXPECT_NE(r.err.find("step time"), std::string::npos) << r.err;  // the table moved to stderr
}

TEST(CliOutputs, ConcurrentWritersEachLeaveAWholeFile) {
  const std::string dir = Folder("concurrent");
  const std::string path = dir + "/same.json";
  for (int trial = 0; trial < 4; ++trial) {
    std::string cmd;
    for (int i = 0; i < 4; ++i)
      cmd += std::string(RINGLAB_BIN) + " sim --world 8 --seq " + std::to_string(4096 * (i + 1)) +
             " --heads 8 --kv-heads 2 --trace " + path + " >/dev/null 2>&1 & ";
    ASSERT_EQ(std::system((cmd + "wait").c_str()), 0);
    EXPECT_TRUE(nlohmann::json::accept(ReadWholeFile(path))) << "trial " << trial;
    EXPECT_EQ(Files(dir).size(), 1u);
  }
}

TEST(CliOutputs, NamingRuleForSeveralConfigs) {
  const std::string dir = Folder("naming");
  ASSERT_EQ(RunRinglab(kSim + "--method both --pass both --trace " + dir + "/t.json").code, 0);
  for (const char* name :
       {"t.allgather.forward.json", "t.allgather.backward.json", "t.alltoall.forward.json", "t.alltoall.backward.json"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + name)) << name;
  ASSERT_EQ(RunRinglab(kSim + "--pass both --trace " + dir + "/noext").code, 0);
  EXPECT_TRUE(std::filesystem::exists(dir + "/noext.alltoall.forward"));
  ASSERT_EQ(RunRinglab(kSim + "--trace " + dir + "/one.json").code, 0);  // one config: the path as given
  EXPECT_TRUE(std::filesystem::exists(dir + "/one.json"));
  // '-' and special files cannot take a suffix.
  for (const std::string& args :
       std::vector<std::string>{kSim + "--pass both --trace -", kSim + "--method both --trace /dev/null",
                                "check --world 2 --seq 64 --trace -", "check --world 2 --seq 64 --trace /dev/null"}) {
    Result r = RunRinglab(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("cannot take one"), std::string::npos) << args << "\n" << r.output;
  }
  for (const std::string& name : Files(dir)) EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
}

// A flag's suffixed file (sim --trace t.json with several configs writes t.<method>.<pass>.json) that is another
// output's file is refused before the simulation: it used to be found at the end, after the summary went to stdout.
TEST(CliOutputs, SuffixedNamesClashingWithAnotherOutputAreRefusedBeforeTheSimulation) {
  const std::string dir = Folder("suffix_clash");
  SplitResult r = RunSplit(kSim + "--method both --pass both --trace " + dir + "/t.json --json " + dir +
                           "/t.allgather.forward.json");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("ringlab: error: --trace " + dir + "/t.allgather.forward.json and --json " + dir +
                       "/t.allgather.forward.json name the same file"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "") << "simulated before the check";
  EXPECT_TRUE(Files(dir).empty());
  // The unsuffixed name is free: no trace is written there.
  EXPECT_EQ(RunRinglab(kSim + "--pass both --trace " + dir + "/t.json --json " + dir + "/t.json").code, 0);
}

// --chakra's folder is checked with the other outputs before the simulation, and a failed run leaves no folder: a
// clash with --json used to exit 2 after the simulation with an empty folder left behind, and an unwritable folder
// was found only after the simulation.
TEST(CliOutputs, ChakraFolderIsCheckedBeforeTheSimulationAndLeftOnlyWhole) {
  if (RunRinglab(kSim + "--chakra /dev/null/x").output.find("no Chakra export") != std::string::npos)
    GTEST_SKIP() << "this ringlab is built without the Chakra export";
  const std::string dir = Folder("chakra");
  std::ofstream(dir + "/plain") << "x";
  std::filesystem::create_directories(dir + "/et");
  for (const auto& [args, text] : std::vector<std::pair<std::string, std::string>>{
           {"--chakra " + dir + "/d --json " + dir + "/d", "--json " + dir + "/d and --chakra " + dir + "/d"},
           {"--chakra " + dir + "/out/et --trace " + dir + "/out", "--chakra " + dir + "/out/et"},
           {"--chakra " + dir + "/plain/et", "--chakra: cannot create folder " + dir + "/plain/et"},
           {"--chakra /proc/ringlab_no_such/et", "--chakra: cannot create folder /proc/ringlab_no_such"},
           {"--chakra " + dir + "/et --trace " + dir + "/et/ringlab.1.et", "--chakra " + dir + "/et/ringlab.1.et"}}) {
    SplitResult r = RunSplit(kSim + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find("ringlab: error: "), std::string::npos) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(r.out.find("step time"), std::string::npos) << args << ": simulated before the check";
  }
  std::vector<std::string> left = Files(dir);
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"et", "plain"}));
  EXPECT_TRUE(Files(dir + "/et").empty());
  // A good run makes the folders it needs.
  ASSERT_EQ(RunRinglab(kSim + "--chakra " + dir + "/new/et").code, 0);
  EXPECT_EQ(Files(dir + "/new/et").size(), 2u);
}

// `run` checks every output before it asks for GPUs: a bad target exits 2 naming it on any machine, and leaves no
// file or folder. With GPUs, --out holds every tensor of every method, whole (.npy with its header), after the run.
TEST(CliOutputs, RunChecksEveryOutputBeforeTheGpus) {
  if (RunRinglab("run --help").code != 0) GTEST_SKIP() << "this ringlab is built without CUDA";
  const std::string dir = Folder("run"), file = dir + "/a_file";
  std::ofstream(file) << "x";
  const std::string run = "run --world 2 --seq 256 --heads 2 --kv-heads 2 --dim 64 --iters 1 --warmup 0 ";
  ExpectCannotWrite(run + "--json /dev/full", "/dev/full");
  ExpectCannotWrite(run + "--trace " + dir + "/missing/t.json", dir + "/missing/t.json");
  ExpectCannotWrite(run + "--json " + dir, dir);
  ExpectCannotWrite(run + "--out " + dir + "/missing/tensors", dir + "/missing/tensors");
  for (const std::string& out : {file, std::string("-"), std::string("/dev/null")}) {
    Result r = RunRinglab(run + "--out " + out);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("--out " + out), std::string::npos) << r.output;
  }
  EXPECT_EQ(Files(dir), std::vector<std::string>{"a_file"});
  const std::string tensors = dir + "/tensors";
  Result r = RunRinglab(run + "--method both --out " + tensors);
  if (r.code == 3 && r.output.find("visible") != std::string::npos) {
    EXPECT_FALSE(std::filesystem::exists(tensors)) << "a failed run made its --out folder";
    GTEST_SKIP() << "no GPU: " << r.output;
  }
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* method : {"allgather", "alltoall"})
    for (const char* name : {"q", "k", "v", "do", "out", "lse", "dq", "dk", "dv"}) {
      const std::string npy = ReadWholeFile(tensors + "/" + method + "/" + name + ".npy");
      ASSERT_GT(npy.size(), 128u) << method << "/" << name;
      EXPECT_EQ(npy.substr(0, 6), "\x93NUMPY") << method << "/" << name;
    }
}

// An output that is one of the run's inputs is refused before any work, naming both flags, and the input is left as
// it was: the input was read whole and then replaced by the output (`fit-profile --samples s.json --out s.json`
// lost the samples). The same file by another spelling or a hard link counts; a bundled profile's file too.
TEST(CliOutputs, OutputThatIsAnInputIsRefusedAndTheInputKept) {
  const std::string dir = Folder("output_is_input");
  const std::string samples = dir + "/s.json", profile = dir + "/p.json", cu = dir + "/cu.txt";
  std::ofstream(samples) << "{\"launch_gaps_us\": [5, 6, 7]}\n";
  std::filesystem::copy_file(std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/h100_sxm.json", profile);
  std::ofstream(cu) << "0 400 1024\n";
  ASSERT_EQ(::link(samples.c_str(), (dir + "/s_link.json").c_str()), 0);
  const std::string mask = "--mask causal+cu-seqlens:" + cu + " ";
  std::vector<std::tuple<std::string, std::string, std::string>> cases{  // args, output flag, input flag
      {"fit-profile --samples " + samples + " --out " + samples, "--out", "--samples"},
      {"fit-profile --samples " + samples + " --out " + dir + "/../ringlab_out_output_is_input/s.json", "--out", "--samples"},
      {"fit-profile --samples " + samples + " --out " + dir + "/s_link.json", "--out", "--samples"},
      {"fit-profile --samples " + samples + " --base " + profile + " --out " + profile, "--out", "--base"},
      {"calibrate --base " + profile + " --out " + profile, "--out", "--base"},
      {"calibrate --base " + profile + " --out " + dir + "/new.json --samples " + profile, "--samples", "--base"},
      {kSim + "--profile " + profile + " --json " + profile, "--json", "--profile"},
      {kSim + mask + "--json " + cu, "--json", "--mask"},
      {kSim + mask + "--trace " + cu, "--trace", "--mask"},
      {kSweep + "--profile " + profile + " --csv " + profile, "--csv", "--profile"},
      {kSweep + mask + "--json " + cu, "--json", "--mask"},
      {"plan --seq 4096 --heads 8 --kv-heads 2 --profile " + profile + " --json " + profile, "--json", "--profile"},
      {"balance --seq 1024 --world 2 " + mask + "--json " + cu, "--json", "--mask"},
      {"balance --seq 1024 --world 2 --profile " + profile + " --json " + profile, "--json", "--profile"},
      {"schedule --world 2 --seq 1024 " + mask + "--json " + cu, "--json", "--mask"},
      {kCheck.substr(0, kCheck.find("--seq")) + "--seq 1024 " + mask + "--trace " + cu, "--trace", "--mask"}};
  if (RunRinglab("run --help").code == 0) {  // a CUDA build: `run` checks its outputs before reading any tensor
    const std::string tensors = dir + "/tensors";
    std::filesystem::create_directory(tensors);
    for (const char* name : {"q", "k", "v", "q.alltoall.backward"})
      std::ofstream(tensors + "/" + name + ".npy") << "not read";
    const std::string kv = "--k " + tensors + "/k.npy --v " + tensors + "/v.npy ";
    const std::string run = "run --world 1 --seq 256 --heads 2 --kv-heads 1 --dim 64 " + kv;
    const std::string q = "--q " + tensors + "/q.npy ";
    cases.push_back({run + q + "--json " + tensors + "/k.npy", "--json", "--k"});
    cases.push_back({run + q + "--trace " + tensors + "/v.npy", "--trace", "--v"});
    // The backward trace of the second method: "<trace>.alltoall.backward.npy".
    cases.push_back({run + "--q " + tensors + "/q.alltoall.backward.npy --method both --pass both --trace " + tensors +
                         "/q.npy", "--trace", "--q"});
    cases.push_back({run + q + "--out " + tensors, "--out", "--q"});  // --out writes q.npy, k.npy, ... there
  }
  const std::string samples_text = ReadWholeFile(samples), profile_text = ReadWholeFile(profile),
                    cu_text = ReadWholeFile(cu);
  for (const auto& [args, out_flag, in_flag] : cases) {
    const Result r = RunRinglab(args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("ringlab: error: " + out_flag + " "), std::string::npos) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("is the file " + in_flag + " "), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << args << "\n" << r.output;
  }
  EXPECT_EQ(ReadWholeFile(samples), samples_text);
  EXPECT_EQ(ReadWholeFile(profile), profile_text);
  EXPECT_EQ(ReadWholeFile(cu), cu_text);
  // A bundled profile named by name is its file in the profile folder (a copy here: the test must not risk the
  // committed one).
  const Result bundled = ringlab::cli_test::RunShell("RINGLAB_PROFILE_DIR=" + dir + " " + RINGLAB_BIN +
                                                     " fit-profile --samples " + samples + " --base p --out " + dir +
                                                     "/./p.json 2>&1");
  EXPECT_EQ(bundled.code, 2) << bundled.output;
  EXPECT_NE(bundled.output.find("is the file --base " + dir + "/p.json"), std::string::npos) << bundled.output;
  EXPECT_EQ(ReadWholeFile(profile), profile_text);
  // Another output path still works.
  const Result ok = RunRinglab("fit-profile --samples " + samples + " --out " + dir + "/fitted.json");
  EXPECT_EQ(ok.code, 0) << ok.output;
}

}  // namespace
