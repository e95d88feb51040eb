// ringlab-view on bad inputs and failing outputs: one-line messages naming the path, exit 2, and no output left
// half-written (or at all) when a write fails. Rendering cases run under xvfb-run and skip without it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_util.h"

namespace ringlab::viz {
namespace {

struct Result {
  int rc = -1;  // exit status, or 128 + signal
  std::string err;
};

Result RunView(const std::string& args, const std::string& prefix = "") {
  // One file per test: ctest runs this file's tests as parallel processes, which must not share a stderr file.
  const std::string err =
      testing::TempPath(std::string("view_err.") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".txt");
  const std::string cmd = prefix + RINGLAB_VIEW_BIN + " " + args + " > /dev/null 2> " + err;
  const int st = std::system(cmd.c_str());
  Result r;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  std::ifstream in(err);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

bool HaveXvfb() { return std::system("command -v xvfb-run >/dev/null 2>&1") == 0; }
const char* const kXvfb = "timeout 120 xvfb-run -a -s '-screen 0 800x600x24' ";

std::string SmallTrace(const std::string& name, const std::string& ts = "10") {
  const std::string p = testing::TempPath(name);
  std::ofstream(p) << R"({"traceEvents":[{"ph":"X","name":"k","cat":"kernel","pid":0,"tid":0,"ts":)" << ts
                   << R"(,"dur":5},{"ph":"X","name":"k","cat":"kernel","pid":0,"tid":0,"ts":)" << ts
                   << R"(,"dur":2}]})";
  return p;
}

// Files in `dir` whose name contains `part` (temporaries are "NAME.tmp.XXXXXX").
int CountFiles(const std::string& dir, const std::string& part) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().filename().string().find(part) != std::string::npos) ++n;
  return n;
}

TEST(ViewErrors, ADirectoryAsTheTraceExits2) {
  const std::string dir = testing::TempPath("view_dir_trace");
  mkdir(dir.c_str(), 0755);
  Result r = RunView(dir + " --screenshot /dev/null");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

TEST(ViewErrors, AMissingTraceExits2NamingIt) {
  Result r = RunView(testing::TempPath("missing_trace.json") + " --screenshot /dev/null");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("missing_trace.json"), std::string::npos) << r.err;
}

TEST(ViewErrors, LayoutWithoutScreenshotExits2) {
  Result r = RunView(SmallTrace("t_layout_only.json") + " --layout " + testing::TempPath("l.json"));
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("--layout"), std::string::npos) << r.err;
}

TEST(ViewErrors, OverTheMemoryBudgetExits2) {
  const std::string big = testing::TempPath("t_budget_big.json");
  {
    std::ofstream f(big);
    f << "[";
    for (int i = 0; i < 20000; ++i) f << (i ? "," : "") << R"({"ph":"X","ts":)" << i << "}";
    f << "]";
  }
  Result r = RunView(big + " --screenshot /dev/null", "RINGLAB_VIEW_MEMORY_MB=1 ");
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("memory budget"), std::string::npos) << r.err;
}

TEST(ViewErrors, ScreenshotOntoAFullDeviceExits2) {
  if (!HaveXvfb()) GTEST_SKIP() << "xvfb-run is not installed";
  Result r = RunView(SmallTrace("t_full.json") + " --screenshot /dev/full --width 200 --height 100", kXvfb);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("/dev/full"), std::string::npos) << r.err;
}

TEST(ViewErrors, AFailedLayoutLeavesNeitherFile) {
  if (!HaveXvfb()) GTEST_SKIP() << "xvfb-run is not installed";
  const std::string dir = testing::TempPath("view_out_dir");
  std::filesystem::create_directories(dir);
  const std::string png = dir + "/shot_neither.png";
  std::remove(png.c_str());
  Result r = RunView(SmallTrace("t_neither.json") + " --screenshot " + png + " --layout " + dir +
                     "/no_such_folder/layout.json --width 200 --height 100",
                 kXvfb);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("no_such_folder/layout.json"), std::string::npos) << r.err;
  EXPECT_EQ(CountFiles(dir, "shot_neither"), 0) << "the PNG (or its temporary) was left";
  // A directory as the screenshot path.
  r = RunView(SmallTrace("t_dir_out.json") + " --screenshot " + dir + " --width 200 --height 100", kXvfb);
  EXPECT_EQ(r.rc, 2) << r.err;
  EXPECT_NE(r.err.find("directory"), std::string::npos) << r.err;
}

TEST(ViewErrors, ScreenshotIsWrittenWholeWithNoTemporaryLeft) {
  if (!HaveXvfb()) GTEST_SKIP() << "xvfb-run is not installed";
  const std::string dir = testing::TempPath("view_ok_dir");
  std::filesystem::create_directories(dir);
  Result r = RunView(SmallTrace("t_ok.json") + " --screenshot " + dir + "/ok.png --layout " + dir +
                     "/ok.json --width 200 --height 100",
                 kXvfb);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_GT(std::filesystem::file_size(dir + "/ok.png"), 100u);
  EXPECT_GT(std::filesystem::file_size(dir + "/ok.json"), 10u);
  EXPECT_EQ(CountFiles(dir, ".tmp."), 0);
}

TEST(ViewErrors, EpochNanosecondTraceRendersInBoundedMemory) {
  // One event at ts 1.7e18 used to grow the grid-line loop to 24 GB (or crash in AddLine under a limit).
  if (!HaveXvfb()) GTEST_SKIP() << "xvfb-run is not installed";
  const std::string png = testing::TempPath("epoch_shot.png");
  for (const char* ts : {"1700000000000000000", "1e16", "1.7e18"}) {
    Result r = RunView(SmallTrace("t_epoch.json", ts) + " --screenshot " + png + " --width 300 --height 200",
                   std::string("ulimit -v 4000000; ") + kXvfb);
    EXPECT_EQ(r.rc, 0) << ts << ": " << r.err;
  }
}

}  // namespace
}  // namespace ringlab::viz
