// Runs ringlab-view headless under xvfb-run and checks the picture: lanes where the layout says, in the colour of
// the ops they hold, and background where nothing runs.
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "viz/synth.h"
#include "viz/views/view_state.h"

namespace ringlab::viz {
namespace {

bool Near(const unsigned char* p, const uint8_t want[3], int tol = 10) {
  for (int c = 0; c < 3; ++c)
    if (std::abs(int(p[c]) - int(want[c])) > tol) return false;
  return true;
}

// Renders `inputs` (and options) at 1200x700 without the statistics panel into png, with the lane layout; the
// command's exit status.
int Shoot(const std::string& inputs, const std::string& png, const std::string& layout) {
  std::remove(png.c_str());
  const std::string cmd = std::string("xvfb-run -a -s '-screen 0 1280x800x24' ") + RINGLAB_VIEW_BIN + " " + inputs +
                          " --screenshot " + png + " --layout " + layout +
                          " --width 1200 --height 700 --no-stats > /dev/null 2>&1";
  return std::system(cmd.c_str());
}

TEST(Screenshot, LanesAndColoursAreWhereTheyShouldBe) {
  if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) GTEST_SKIP() << "xvfb-run is not installed";
  Trace t;
  ASSERT_TRUE(SynthTrace({.problem = DefaultProblem(), .world = 4}, {}, &t).ok());
  const std::string trace = testing::TempPath("shot_trace.json"), png = testing::TempPath("shot.png"),
                    layout = testing::TempPath("shot_layout.json");
  ASSERT_TRUE(WriteTraceJson(t, trace).ok());
  ASSERT_EQ(Shoot(trace, png, layout), 0) << trace;
  int w = 0, h = 0, n = 0;
  unsigned char* img = stbi_load(png.c_str(), &w, &h, &n, 3);
  ASSERT_NE(img, nullptr);
  EXPECT_EQ(w, 1200);
  EXPECT_EQ(h, 700);
  nlohmann::json L;
  std::ifstream(layout) >> L;
  TraceModel m;
  ASSERT_TRUE(LoadTraceFiles({trace}, &m).ok());
  ASSERT_EQ(L["lanes"].size(), m.lanes.size());
  const double x0 = L["x0"], x1 = L["x1"], t0 = L["t0"], t1 = L["t1"];
  auto X = [&](double tt) { return int(x0 + (tt - t0) / (t1 - t0) * (x1 - x0)); };
  auto px = [&](int x, int y) { return img + (size_t(y) * size_t(w) + size_t(x)) * 3; };
  int lanes_checked = 0;
  for (size_t li = 0; li < m.lanes.size(); ++li) {
    const Lane& lane = m.lanes[li];
    const double y0 = L["lanes"][li]["y0"], y1 = L["lanes"][li]["y1"];
    const int rows = 1 + std::min(lane.max_depth, 5);
    const double row_h = (y1 - y0) / rows;
    // The longest depth-0 op of the lane: sample a band near its bottom edge (below the label text).
    int64_t best = -1;
    for (uint32_t i = lane.begin; i < lane.end; ++i)
      if (m.events[i].depth == 0 && (best < 0 || m.events[i].dur > m.events[size_t(best)].dur)) best = i;
    ASSERT_GE(best, 0);
    const Event& e = m.events[size_t(best)];
    ASSERT_GT(X(e.End()) - X(e.ts), 8) << "op too narrow to check on lane " << lane.name;
    uint8_t want[3];
    KindRgb(e.kind, want);
    int hits = 0, samples = 0;
    const int y = int(y0 + row_h - 3);
    for (int k = 1; k <= 9; ++k) {
      int x = X(e.ts) + (X(e.End()) - X(e.ts)) * (k + 2) / 14;
      ++samples;
      hits += Near(px(x, y), want);
    }
    EXPECT_GE(hits, samples * 2 / 3) << lane.name << ": expected the colour of " << VizKindName(e.kind) << " at y "
                                     << y;
    // Past the end of the run the lane shows its background, not an op colour.
    const int xe = X(m.t_max) + 4;
    if (xe < int(x1) - 2) {
      const unsigned char* p = px(xe, y);
      EXPECT_TRUE(Near(p, (const uint8_t[3]){38, 38, 44}, 6))
          << lane.name << " background at x " << xe << " is " << int(p[0]) << "," << int(p[1]) << "," << int(p[2]);
    }
    ++lanes_checked;
  }
  EXPECT_EQ(lanes_checked, 8);
  stbi_image_free(img);
}

TEST(Screenshot, BadFileExitsWithAMessage) {
  const std::string bad = testing::TempPath("bad.json");
  std::ofstream(bad) << "{\"traceEvents\":[{\"ph\":\"X\",\"ts\":";
  const std::string out = testing::TempPath("bad_out.txt");
  const std::string cmd = std::string(RINGLAB_VIEW_BIN) + " " + bad + " --screenshot /dev/null 2> " + out;
  int rc = std::system(cmd.c_str());
  EXPECT_NE(rc, 0);
  std::ifstream in(out);
  std::string msg((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(Screenshot, CaptureLabelsWholeAndCounterTrackDrawn) {
  if (std::system("command -v xvfb-run >/dev/null 2>&1") != 0) GTEST_SKIP() << "xvfb-run is not installed";
  const std::string data = RINGLAB_VIZ_TEST_DATA, png = testing::TempPath("capture.png"),
                    layout = testing::TempPath("capture_layout.json");
  const std::string files = data + "/kineto_rank0.json " + data + "/kineto_rank1.json";
  ASSERT_EQ(Shoot(files + " --no-cache", png, layout), 0) << files;
  int w = 0, h = 0, n = 0;
  unsigned char* img = stbi_load(png.c_str(), &w, &h, &n, 3);
  ASSERT_NE(img, nullptr);
  nlohmann::json L;
  std::ifstream(layout) >> L;
  // Labels are whole: the label column is wider than the longest label in the default font (7 px a character).
  size_t longest = 0;
  bool spans = false, stream19 = false;
  for (const auto& lane : L["lanes"]) {
    const std::string name = lane["name"];
    longest = std::max(longest, name.size());
    spans |= name == "r0 Spans / PyTorch Profiler";
    stream19 |= name == "r1 GPU 1 / stream 19";
  }
  EXPECT_TRUE(spans && stream19) << L["lanes"].dump();
  const double x0 = L["x0"], x1 = L["x1"], t0 = L["t0"], t1 = L["t1"];
  EXPECT_GE(x0, 7.0 * double(longest)) << "label column " << x0 << " px for " << longest << " characters";
  // The counter track of rank 0 is filled where the link is busy (the fixture's first SendRecv, 1105..1405 us) and
  // empty where it is idle (the last sample, value 0, is at 5025 us).
  ASSERT_EQ(L["counters"].size(), 2u);
  const double cy0 = L["counters"][0]["y0"], cy1 = L["counters"][0]["y1"];
  auto X = [&](double t_us) { return int(x0 + (t_us - t0) / (t1 - t0) * (x1 - x0)); };
  auto px = [&](int x, int y) { return img + (size_t(y) * size_t(w) + size_t(x)) * 3; };
  const uint8_t fill[3] = {90, 170, 110}, bg[3] = {30, 34, 32};
  const int y = int(cy1) - 3;
  EXPECT_TRUE(Near(px(X(1250), y), fill, 20));  // the fixture's clock: no offset (its times are small)
  EXPECT_TRUE(Near(px(X(6900), y), bg, 12));
  EXPECT_GT(cy1 - cy0, 10);
  stbi_image_free(img);
}

}  // namespace
}  // namespace ringlab::viz
