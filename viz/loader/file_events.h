// The seam between reading a trace file and building the model: what parsing one file yields (FileEvents: its
// complete events, lanes numbered in order of first appearance, process/thread names, metadata), the name interner
// and the sink that turns RawEvents into model Events. The parsers (file_parser.h, parallel_parse.h) fill it;
// trace_builder.h turns a list of them into a TraceModel.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "viz/loader/chrome_event.h"
#include "viz/model.h"

namespace ringlab::viz::loader {

using LaneKey = std::pair<int64_t, int64_t>;  // (pid, tid)

// A flow event (ph s, t or f) before it is bound to a slice: the trace builder binds it to the slice of its lane
// that encloses ts (s, t, and f with "bp": "e"), or to the next slice starting at or after ts (f otherwise).
struct FlowPoint {
  uint64_t id = 0;  // hash of (cat, id)
  double ts = 0;    // on the file's clock (relative to its origin, as events)
  uint32_t lane = 0;
  char ph = 's';
  bool enclosing = true;
};

// A counter sample (ph C): one per numeric args key.
struct CounterSample {
  uint32_t series = 0;  // index into the file's counter_keys
  double ts = 0;
  double value = 0;
};
struct CounterKey {
  int64_t pid = 0;
  std::string name;  // event name, or "name.key" when the args hold another key than "value"
  bool operator<(const CounterKey& o) const { return pid != o.pid ? pid < o.pid : name < o.name; }
};

// What a file holds besides complete events: flows and counters.
struct FileExtras {
  std::vector<FlowPoint> flows;
  std::vector<CounterSample> counters;
  std::vector<CounterKey> counter_keys;
  std::map<CounterKey, uint32_t> series_of;
  uint64_t series_bytes = 0;  // what the series take (memory_budget.h kCounterSeriesBytes), checked by AddCounter
  uint32_t SeriesOf(int64_t pid, std::string name);
  // An error naming `file` when the series take more than memory_budget.h's kMaxCounterSeriesBytes.
  Status CheckSeriesBudget(const std::string& file) const;
};

// Per-file parse result before indexing.
struct FileEvents {
  FileInfo info;
  bool has_dist_rank = false;
  int64_t dist_rank = 0;
  std::vector<Event> events;       // lane field = index into lane_keys
  std::vector<LaneKey> lane_keys;  // (pid, tid)
  std::unordered_map<int64_t, std::string> process_names;
  std::map<LaneKey, std::string> thread_names;
  int64_t ts_origin = 0;  // whole microseconds subtracted from each event's ts (EventSink::origin)
  FileExtras extras;
  std::unordered_map<int64_t, std::string> id_names;  // string pids/tids ("Spans") by the id they were given
};

// Event names, each stored once and numbered in order of first appearance.
struct Interner {
  std::unordered_map<std::string_view, uint32_t> ids;  // views into store
  std::vector<std::unique_ptr<std::string>> store;
  uint32_t Get(std::string_view s);
  // The names by id, moved out. Call it last: the interner cannot be used afterwards.
  std::vector<std::string> TakeNames();
};

// Where complete events go: lanes numbered in order of first appearance, names interned.
struct EventSink {
  std::vector<Event>* events;
  std::vector<LaneKey>* lane_keys;
  Interner* names;
  FileExtras* extras = nullptr;  // flows and counters go here; dropped when null
  std::map<LaneKey, uint32_t> lane_of;
  // The last lane looked up (a one-entry cache): valid only once has_last is set, since any key, INT64_MIN pairs too
  // (string pids such as "-9223372036854775808"), can be a real lane.
  bool has_last = false;
  LaneKey last_key{};
  uint32_t last_lane = 0;
  // Events are stored relative to an origin: the whole part of the first event's ts when that is epoch-scale
  // (|ts| >= kOffsetFromUs), else 0, so ordinary traces keep their own clock. Doubles near 1e15..1e18 cannot hold
  // sub-microsecond steps (and the viewer's arithmetic on them stalls); offsets from the first event can.
  static constexpr int64_t kOffsetFromUs = int64_t(1) << 32;  // about 72 minutes
  bool has_origin = false;
  int64_t origin = 0;

  uint32_t LaneOf(LaneKey key);
  void SetOrigin(const RawEvent& ev);  // the first timed event sets the origin
  void Add(const RawEvent& ev);
  // A flow event (ph s/t/f) or counter (ph C); false when its fields are not usable (it is then skipped).
  bool AddFlow(const RawEvent& ev);
  Status AddCounter(const RawEvent& ev, const std::string& file);
};

}  // namespace ringlab::viz::loader
