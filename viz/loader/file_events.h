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
  std::map<LaneKey, uint32_t> lane_of;
  LaneKey last_key{INT64_MIN, INT64_MIN};
  uint32_t last_lane = 0;
  // Events are stored relative to an origin: the whole part of the first event's ts when that is epoch-scale
  // (|ts| >= kOffsetFromUs), else 0, so ordinary traces keep their own clock. Doubles near 1e15..1e18 cannot hold
  // sub-microsecond steps (and the viewer's arithmetic on them stalls); offsets from the first event can.
  static constexpr int64_t kOffsetFromUs = int64_t(1) << 32;  // about 72 minutes
  bool has_origin = false;
  int64_t origin = 0;

  uint32_t LaneOf(LaneKey key);
  void Add(const RawEvent& ev);
};

}  // namespace ringlab::viz::loader
