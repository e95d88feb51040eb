// Viewer data model: loaded traces indexed per lane, with level of detail, search and lookups. No ImGui, no GL.
//
// A TraceModel holds the events of one or more trace files (ringlab traces, or plain Chrome/Perfetto JSON such as
// PyTorch profiler exports, one file per rank, .json or .json.gz). Events are grouped into lanes (rank × stream for
// ringlab traces; rank × pid × tid for foreign ones); each lane's events are sorted by start time and carry a running
// maximum of end times, so the visible range of a lane is found by binary search and tiny events fold into blocks.
//
//   TraceModel m;
//   Status s = LoadTraceFiles({"rank0.json.gz", "rank1.json.gz"}, &m);
//   if (!s.ok()) { std::cerr << s.message() << "\n"; return 2; }
//   std::vector<LodBlock> blocks;
//   VisibleBlocks(m, /*lane=*/0, t0_us, t1_us, /*us_per_px=*/(t1_us - t0_us) / 1600, /*min_px=*/2, &blocks);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"
#include "core/trace.h"

namespace ringlab::viz {

// Op kinds the viewer colours: core's eight, then kinds met only in foreign traces.
enum class VizKind : uint8_t {
  kAttend, kSend, kRecv, kAllGather, kReduceScatter, kMerge, kCopy, kPrepare,  // = core OpKind values
  kAllToAll,   // = OpKind::kAllToAll: the Ulysses head all-to-all of the rank's group
  kKernel,     // a GPU compute kernel of a foreign trace
  kCommOther,  // a foreign communication kernel (NCCL all-reduce, ...)
  kHost,       // host-side (CPU) activity of a foreign trace: drawn, left out of compute/comm statistics
};
inline constexpr int kVizKindCount = 12;
std::string_view VizKindName(VizKind k);
bool IsCommKind(VizKind k);
bool IsComputeKind(VizKind k);  // counts as compute in the statistics (not comm, not host)

struct Event {
  double ts = 0;   // start, microseconds
  double dur = 0;  // microseconds
  double flops = 0;
  int64_t bytes = 0;
  int32_t op = -1;  // schedule op id on the rank (ringlab traces), -1 when unknown
  int32_t step = -1;
  int32_t peer = -1;
  uint32_t name = 0;  // index into TraceModel::names
  uint32_t lane = 0;
  VizKind kind = VizKind::kKernel;
  uint8_t depth = 0;  // nesting depth inside its lane (foreign traces nest; ringlab ops do not)
  int16_t iter = -1;  // iteration id from args.iteration (or args.iter), -1 when absent; fits in the padding
  double End() const { return ts + dur; }
};

struct Lane {
  int rank = 0;          // group the lane is drawn under
  int file = 0;          // index into TraceModel::files
  int64_t pid = 0, tid = 0;
  int stream = -1;       // 0 compute, 1 comm for ringlab traces; -1 for foreign lanes
  std::string name;      // "rank 3 compute", "rank 0 / stream 7"
  uint32_t begin = 0, end = 0;  // event index range in TraceModel::events
  int max_depth = 0;
};

struct FileInfo {
  std::string path;
  bool ringlab = false;  // carries ringlab metadata
  TraceMeta meta;        // valid when ringlab
  bool has_config = false;
  std::string format;    // "ringlab", "chrome"
  int64_t event_count = 0;
  std::string run_id;    // ringlab.run_id, or distributedInfo's run/pg id when the file names one; may be empty
  bool has_rank = false; // a foreign file that names its rank (distributedInfo.rank)
};

// A flow arrow between two events (Chrome flow events ph s/t/f joined by id; or a derived send->recv pair).
struct Flow {
  uint32_t from = 0, to = 0;  // event indices
};

// One counter series (Chrome ph C: a process's named counter, one series per numeric args key), drawn as a track
// under its rank's lanes. Samples hold from their ts until the next one.
struct CounterTrack {
  int rank = 0;
  int file = 0;
  int64_t pid = 0;
  std::string name;         // "link bytes/s" or "name.key" when the counter has several keys
  std::vector<double> ts;   // ascending, on the model's clock
  std::vector<double> value;
  double vmin = 0, vmax = 0;
};

struct TraceModel {
  std::vector<FileInfo> files;
  std::vector<Event> events;       // sorted by (lane, ts)
  std::vector<double> max_end;     // running max of End() within each lane, same indexing as events
  std::vector<Lane> lanes;         // sorted by (rank, stream/pid, tid)
  std::vector<std::string> names;  // interned event names
  std::vector<int> ranks;          // distinct ranks, ascending
  double t_min = 0, t_max = 0;     // over all events
  // Whole microseconds subtracted from every loaded ts: the first event's for epoch-scale clocks (|ts| >= 2^32 us),
  // else 0. Event times and t_min/t_max are relative to it; labels count from t_min either way.
  int64_t ts_origin = 0;
  // Flow arrows read from the files' flow events (bound to their enclosing or next slice), in file order.
  std::vector<Flow> flows;
  std::vector<CounterTrack> counters;  // sorted by (rank, file, pid, name)
  // (rank, op) -> event index, for ringlab traces; empty when op ids are missing or sparse.
  std::map<int, std::vector<int32_t>> op_index;
  // Per lane, running sums of event duration per (nesting row, kind) present in the lane (for CoverageRuns), every
  // kStride events, and packed start times, keys and durations (13 bytes an event instead of 48). Built on first use by the
  // drawing thread (CoverageRuns), not by the loader: zoomed-in viewing never pays for it.
  struct KindSums {
    static constexpr uint32_t kStride = 16;
    bool built = false;
    std::vector<uint8_t> kinds;  // key = row * 16 + kind
    std::vector<double> cum;     // [(i / kStride) * K + k]: sums over the lane's first i events, i a multiple of kStride
    std::vector<double> ts;      // the lane's start times, packed (the column search reads only these)
    std::vector<uint8_t> slot;   // per event: its key's index in kinds
    std::vector<float> dur;      // per event: duration
  };
  mutable std::vector<KindSums> kind_sums;

  bool empty() const { return events.empty(); }
  const std::string& NameOf(const Event& e) const { return names[e.name]; }
  // Index of the event of `op` on `rank`, or -1.
  int64_t FindOp(int rank, int op) const;
  // Lanes of one rank, in drawing order.
  std::vector<int> LanesOfRank(int rank) const;
  // First event index of `lane` whose end is after t (the visible range starts there).
  uint32_t FirstVisible(int lane, double t) const;
  // The event of `lane` covering time t (within slack) at nesting `depth` (-1: the deepest), or -1.
  int64_t EventAt(int lane, double t, double slack_us = 0, int depth = -1) const;
  // The schedule config shared by the loaded ringlab files, if any.
  const ScheduleConfig* Config() const;
};

struct LoadOptions {
  // Rank for a foreign file: from its "distributedInfo": {"rank": N} when present, else the file's position.
  bool foreign_rank_from_file_order = true;
  // Files that hold the same rank come from different runs (or are two captures of one rank): the load is refused
  // with a message naming them, unless this draws each such file as a run of its own (ranks renumbered after the
  // previous run's, lanes prefixed "run N").
  bool separate_runs = false;
  // Read and write a binary cache beside each trace file (TRACE.rlcache, loader/cache.h): a second load of an
  // unchanged file skips the JSON parse. Written only for traces of at least cache_min_bytes.
  bool use_cache = false;
  uint64_t cache_min_bytes = uint64_t(64) << 20;
};

// Loads and indexes the files into one model. Messages name the file, the byte offset/line and the field.
Status LoadTraceFiles(const std::vector<std::string>& paths, TraceModel* out, const LoadOptions& opt = {});
// Loads from memory (used by tests and the fuzzer). `name` is used in messages.
Status LoadTraceBuffer(std::string_view data, const std::string& name, TraceModel* out);
// Reads a file, gunzipping when it starts with the gzip magic.
Status ReadFileMaybeGz(const std::string& path, std::string* out);
// Builds a model directly from a core Trace (no JSON round trip).
void ModelFromTrace(const Trace& trace, TraceModel* out, const std::string& name = "memory");

// A drawable piece of a lane: one event, or several events narrower than min_px folded together.
struct LodBlock {
  double t0 = 0, t1 = 0;
  uint32_t first = 0;  // event index of the first event in the block
  uint32_t count = 0;  // number of events folded (1: a single event)
  VizKind kind = VizKind::kKernel;
  uint8_t depth = 0;
};
// Blocks of `lane` intersecting [t0, t1], left to right. Work is O(visible blocks × log n), not O(events).
void VisibleBlocks(const TraceModel& m, int lane, double t0, double t1, double us_per_px, double min_px,
                   std::vector<LodBlock>* out);

// Far-out level of detail: one coloured run per stretch of equal pixel columns. Column c covers
// [t0 + c * us_per_px, t0 + (c + 1) * us_per_px); its colour is the kind with the most busy time in it (events starting
// in it, plus the part of an earlier event reaching into it); a column no event touches is left out. The current
// run's kind is kept while it has at least half the leader's time, so noisy columns do not split runs. Work is
// O(columns × log(events)), not O(visible events), using running per-kind sums built once per lane (TraceModel::
// kind_sums; not thread-safe: call from one thread). Meant for lanes with many events per pixel.
struct CoverageRun {
  int c0 = 0, c1 = 0;  // columns [c0, c1)
  VizKind kind = VizKind::kKernel;
  bool single = false;  // every column of the run is touched by exactly one event
  uint32_t first = 0;   // an event of the run (the first that gave it its colour)
  uint8_t row = 0;      // nesting row
};
// Runs of all `rows` nesting rows (events deeper than rows - 1 count in the last row), ordered by their end.
void CoverageRuns(const TraceModel& m, int lane, int rows, double t0, double us_per_px, int columns,
                  std::vector<CoverageRun>* out);
// Number of events of `lane` starting in [t0, t1) (two binary searches).
uint32_t EventsStartingIn(const TraceModel& m, int lane, double t0, double t1);

// Events whose name contains `text` (case-insensitive), in index order, at most `limit`.
std::vector<uint32_t> SearchByName(const TraceModel& m, std::string_view text, size_t limit = 1 << 20);

// "12.5 us", "3.20 ms", "1.000 s"
std::string FormatDuration(double us);
std::string FormatBytes(double bytes);

}  // namespace ringlab::viz
