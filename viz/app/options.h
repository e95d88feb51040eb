// Command line of ringlab-view (also reached as `ringlab view ...`).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace ringlab::viz {

struct ViewOptions {
  std::vector<std::string> files;
  bool compare = false;
  std::vector<std::string> files_b;  // compare mode: B's files (after --vs; with --compare FILE FILE, the second)
  bool separate_runs = false;
  bool flows = false;
  std::string tab;  // bottom tab shown first
  int iteration_a = -1, iteration_b = -1;
  bool cache = true;
  std::string screenshot;  // PNG path: render headless and exit
  std::string layout;      // JSON path: where lanes were drawn (for screenshot tests)
  int width = 1600, height = 900;
  bool has_range = false;
  double range_a = 0, range_b = 0;  // microseconds from the trace start
  bool has_select = false;
  int select_rank = 0, select_op = 0;
  bool critical_path = false;
  std::string search;
  bool no_stats = false;
  int frames = 3;        // frames rendered before the screenshot is read back
  int bench_frames = 0;  // >0: time this many frames zoomed out and zoomed in, print JSON, exit
  bool help = false;
};

extern const char* const kViewUsage;

// Parses argv (without argv[0]). Messages name the argument.
Status ParseViewOptions(const std::vector<std::string>& args, ViewOptions* out);

}  // namespace ringlab::viz
