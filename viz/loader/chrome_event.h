// One element of a Chrome Trace Event "traceEvents" array, read with the JSON scanner into a RawEvent: the fields the
// viewer uses (ph, name, cat, pid, tid, ts, dur, and args op/step/peer/bytes/flops/sort_index/name). Unknown keys are
// skipped. Also the op kind a foreign event is drawn as (Classify).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "viz/loader/json_scanner.h"
#include "viz/loader/memory_budget.h"
#include "viz/model.h"

namespace ringlab::viz::loader {

struct RawEvent {
  char ph = 0;
  bool has_pid = false, has_tid = false, has_ts = false, has_dur = false;
  int64_t pid = 0, tid = 0;
  SplitTime ts;  // exact whole microseconds + fraction (json_scanner.h)
  double dur = 0;
  std::string_view name, cat;  // point into the input, or into name_buf / cat_buf when the string had escapes
  std::string name_buf, cat_buf;
  int64_t op = -1, step = -1, peer = -1, bytes = 0, sort_index = 0;
  double flops = 0;
  std::string_view meta_name;  // args.name of metadata events (process_name, thread_name)
  std::string meta_name_buf;
  int64_t iter = -1;           // args.iteration or args.iter
  bool has_id = false;         // flows: id (or id2.local / id2.global), hashed with cat
  uint64_t id = 0;
  bool bp_enclosing = false;   // "bp": "e"
  std::string_view args_raw;   // the args object's text (counters read every numeric key from it)
};

// Clears every field, keeping the buffers' memory for the next event.
void ResetRaw(RawEvent& ev);

// Strings used as pid or tid ("Spans", "stream 7") map to ids from 2^40 up, numbered in order of first appearance.
using StringIds = std::unordered_map<std::string, int64_t>;

// Parses one event object at the scanner's position into *ev (which ResetRaw cleared).
Status ParseEvent(JsonScanner& sc, RawEvent* ev, StringIds* ids);

// The kind an event is drawn as: a ringlab op kind from its category, else guessed from its name and category
// (NCCL collectives, copies, GPU kernels, host activity).
VizKind Classify(std::string_view cat, std::string_view name);

// A flow's binding key: its id hashed with its category (flows join by the pair).
uint64_t FlowKey(std::string_view cat, uint64_t id);

// The numeric members of an args object (counters): key and value, in order. Non-numeric members are skipped. More
// than `max_values` of them is an error (memory_budget.h kMaxCounterValues), raised before the rest are read.
Status ParseNumericArgs(std::string_view args, const std::string& file, std::vector<std::pair<std::string, double>>* out,
                        size_t max_values = kMaxCounterValues);

}  // namespace ringlab::viz::loader
