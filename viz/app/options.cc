#include "viz/app/options.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <cmath>

namespace ringlab::viz {

const char* const kViewUsage =
    "ringlab-view: interactive timeline of ringlab traces and Chrome/Perfetto trace JSON (.json or .json.gz)\n"
    "\n"
    "usage: ringlab-view FILE... [--compare | --vs FILE...] [--screenshot PNG [--width W] [--height H]]\n"
    "                    [--range-us A:B] [--select RANK:OP] [--critical-path] [--search TEXT] [--layout JSON]\n"
    "                    [--no-stats] [--flows] [--tab NAME] [--separate-runs] [--iteration-a N] [--iteration-b N]\n"
    "                    [--no-cache]\n"
    "\n"
    "  FILE...            traces to open. Several files are shown together (for example one PyTorch profiler\n"
    "                     export per rank; the rank comes from distributedInfo.rank, else the file's position).\n"
    "  --compare          exactly two traces of one problem (e.g. measured and simulated): aligned lanes, the\n"
    "                     second (B) coloured by its difference to the first (A), an error table per op kind.\n"
    "  --vs FILE...       compare mode with several files a side: A is the files before --vs (e.g. a PyTorch\n"
    "                     capture, one file per rank), B the files after it (e.g. the simulated trace). Ops are\n"
    "                     matched by op id (ringlab traces of one schedule) or by kind and order per rank; a\n"
    "                     warning says when the two schedules differ.\n"
    "  --iteration-a N, --iteration-b N   the iteration of A / B to compare (default: the first of each).\n"
    "  --separate-runs    files holding the same rank are from different runs: draw each as a run of its own\n"
    "                     (without it, such files are refused rather than mixed).\n"
    "  --flows            arrows for every flow (send -> recv; PyTorch launch -> kernel) in view (toggle: Flows).\n"
    "  --tab NAME         bottom tab shown first: Statistics, Names, Iterations, Compare, Selection, Search.\n"
    "  --no-cache         neither read nor write the binary cache (TRACE.rlcache beside a plain JSON trace; a\n"
    "                     second load of an unchanged trace skips the JSON parse).\n"
    "  --screenshot PNG   render without interaction (works under xvfb-run with Mesa software GL) and write PNG\n"
    "                     ('-': standard output). Written whole or not at all (with --layout: both or neither).\n"
    "  --width W, --height H   window/screenshot size in pixels (default 1600x900).\n"
    "  --range-us A:B     show microseconds A..B from the trace's start (default: fit all).\n"
    "  --select RANK:OP   select schedule op OP of rank RANK (arrows to its dependencies and dependants).\n"
    "  --critical-path    highlight the run's critical path.\n"
    "  --search TEXT      highlight ops whose name contains TEXT.\n"
    "  --layout JSON      with --screenshot, also write where lanes were drawn (used by the screenshot test).\n"
    "  --no-stats         hide the bottom statistics panel.\n"
    "  --frames N         frames rendered before the screenshot is taken (default 3).\n"
    "  --bench-frames N   time N frames zoomed out and zoomed in, print JSON timings, exit.\n"
    "  --help             this text.\n"
    "\n"
    "keys: wheel zoom at the cursor, drag pan, shift-drag or right-drag select a range, click select an op,\n"
    "      arrows or A/D pan, W/S zoom, F fit all, Z zoom to selection, Esc clear.\n"
    "exit status: 0 ok, 2 bad arguments, an unreadable trace (the message names the file and field), a trace over\n"
    "the memory budget (RINGLAB_VIEW_MEMORY_MB; default half the memory, or 60% of ulimit -v) or a failed write.\n";

namespace {
bool ParseInt(const std::string& s, int* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
bool ParseDouble(const std::string& s, double* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*out);
}
}  // namespace

Status ParseViewOptions(const std::vector<std::string>& args, ViewOptions* o) {
  *o = ViewOptions{};
  bool in_b = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string* v) -> Status {
      if (i + 1 >= args.size()) return Status::InvalidArgument(a + " needs a value");
      *v = args[++i];
      return Status::Ok();
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      o->help = true;
    } else if (a == "--compare") {
      o->compare = true;
    } else if (a == "--vs") {
      if (in_b) return Status::InvalidArgument("--vs given twice");
      in_b = true;
    } else if (a == "--separate-runs") {
      o->separate_runs = true;
    } else if (a == "--flows") {
      o->flows = true;
    } else if (a == "--no-cache") {
      o->cache = false;
    } else if (a == "--tab") {
      RINGLAB_RETURN_IF_ERROR(value(&o->tab));
      static const char* const kTabs[] = {"Statistics", "Names", "Iterations", "Compare", "Selection", "Search"};
      if (std::find(std::begin(kTabs), std::end(kTabs), o->tab) == std::end(kTabs))
        return Status::InvalidArgument("--tab must be one of Statistics, Names, Iterations, Compare, Selection, "
                                       "Search, got '" + o->tab + "'");
    } else if (a == "--iteration-a" || a == "--iteration-b") {
      RINGLAB_RETURN_IF_ERROR(value(&v));
      int n = 0;
      if (!ParseInt(v, &n) || n < 0 || n > 32767)
        return Status::InvalidArgument(a + " must be an iteration id in [0, 32767], got '" + v + "'");
      (a == "--iteration-a" ? o->iteration_a : o->iteration_b) = n;
    } else if (a == "--critical-path") {
      o->critical_path = true;
    } else if (a == "--no-stats") {
      o->no_stats = true;
    } else if (a == "--screenshot") {
      RINGLAB_RETURN_IF_ERROR(value(&o->screenshot));
    } else if (a == "--layout") {
      RINGLAB_RETURN_IF_ERROR(value(&o->layout));
    } else if (a == "--search") {
      RINGLAB_RETURN_IF_ERROR(value(&o->search));
    } else if (a == "--width" || a == "--height" || a == "--frames" || a == "--bench-frames") {
      RINGLAB_RETURN_IF_ERROR(value(&v));
      int n = 0;
      const int lo = a == "--bench-frames" ? 0 : a == "--frames" ? 1 : 64;
      if (!ParseInt(v, &n) || n < lo || n > 16384)
        return Status::InvalidArgument(a + " must be an integer in [" + std::to_string(lo) + ", 16384], got '" + v +
                                       "'");
      (a == "--width" ? o->width : a == "--height" ? o->height : a == "--frames" ? o->frames : o->bench_frames) = n;
    } else if (a == "--range-us") {
      RINGLAB_RETURN_IF_ERROR(value(&v));
      size_t c = v.find(':');
      if (c == std::string::npos || !ParseDouble(v.substr(0, c), &o->range_a) ||
          !ParseDouble(v.substr(c + 1), &o->range_b) || !(o->range_b > o->range_a))
        return Status::InvalidArgument("--range-us must be A:B with numbers A < B (microseconds), got '" + v + "'");
      o->has_range = true;
    } else if (a == "--select") {
      RINGLAB_RETURN_IF_ERROR(value(&v));
      size_t c = v.find(':');
      if (c == std::string::npos || !ParseInt(v.substr(0, c), &o->select_rank) ||
          !ParseInt(v.substr(c + 1), &o->select_op))
        return Status::InvalidArgument("--select must be RANK:OP (integers), got '" + v + "'");
      o->has_select = true;
    } else if (!a.empty() && a[0] == '-') {
      return Status::InvalidArgument("unknown option '" + a + "' (see --help)");
    } else {
      (in_b ? o->files_b : o->files).push_back(a);
    }
  }
  if (o->help) return Status::Ok();
  if (o->files.empty()) return Status::InvalidArgument("no trace files given (see --help)");
  if (!o->layout.empty() && o->screenshot.empty())
    return Status::InvalidArgument("--layout is written with a screenshot: it needs --screenshot PNG");
  if (!o->layout.empty() && o->layout == o->screenshot)
    return Status::InvalidArgument("--layout and --screenshot name the same file '" + o->layout + "'");
  if (in_b) {
    if (o->compare) return Status::InvalidArgument("--compare and --vs: give one (--vs already compares)");
    if (o->files_b.empty()) return Status::InvalidArgument("--vs needs at least one trace file after it");
    o->compare = true;
    return Status::Ok();
  }
  if (o->compare && o->files.size() != 2)
    return Status::InvalidArgument("--compare needs exactly two trace files, got " + std::to_string(o->files.size()));
  if (o->compare) o->files_b = {o->files[1]}, o->files.resize(1);
  return Status::Ok();
}

}  // namespace ringlab::viz
