// TraceRecorder: the trace events of chosen ranks, recorded by an engine that simulates representatives.
//
// The symmetric engine (one representative per class of ranks r mod P), the rank-range engine (one representative
// per block position, standing for every block of its range) and the phased run all simulate fewer ranks than they
// report. A traced rank does, op by op, what its representative does at the same instants (that is what makes those
// runs exact), so its events are the representative's with the rank's own op facts (peer, tag, step, op id from its
// schedule). The general engine is the case P = W: every rank is its own representative.
//
//   TraceRecorder rec(/*period=*/8);
//   rec.Add(16389, &schedule);                       // class 16389 mod 8 = 5
//   rec.Record(/*cls=*/5, stream, pos, start, end, table, [&](int rank) { return InRange(rank); });
#pragma once

#include <utility>
#include <vector>

#include "core/schedule.h"
#include "core/trace.h"
#include "sim/program_table.h"
#include "sim/time_ps.h"

namespace ringlab::sim {

// The trace event of op `op_id` of `rank` (its facts from the rank's schedule) running from `start` to `end`.
inline TraceEvent OpEvent(int rank, const RankSchedule& schedule, int op_id, TimePs start, TimePs end) {
  TraceEvent e = EventFor(rank, schedule.ops[op_id]);
  e.ts_us = double(start) * 1e-6;
  e.dur_us = double(end - start) * 1e-6;
  return e;
}

// Ranks to trace with their schedules (which must outlive every run given them).
using TracedRanks = std::vector<std::pair<int, const RankSchedule*>>;

class TraceRecorder {
 public:
  explicit TraceRecorder(int period = 1) : by_class_(period > 0 ? period : 1) {}

  // Traces `rank` (its schedule must outlive the recorder); a null schedule is ignored.
  void Add(int rank, const RankSchedule* schedule) {
    if (!schedule) return;
    by_class_[rank % int(by_class_.size())].push_back({rank, schedule});
    any_ = true;
  }
  void Add(const TracedRanks& ranks) {
    for (const auto& [rank, schedule] : ranks) Add(rank, schedule);
  }
  bool any() const { return any_; }
  int period() const { return int(by_class_.size()); }

  // One event per traced rank of class `cls` for which covers(rank) holds: the op at `pos` of `stream` of that rank's
  // program, from `start` to `end`.
  template <typename Covers>
  void Record(int cls, int stream, int pos, TimePs start, TimePs end, const ProgramTable& table, Covers covers) {
    for (const Traced& t : by_class_[cls]) {
      if (covers(t.rank)) events_.push_back(OpEvent(t.rank, *t.schedule, table.Op(t.rank, stream, pos).op_id, start, end));
    }
  }
  void Record(int cls, int stream, int pos, TimePs start, TimePs end, const ProgramTable& table) {
    Record(cls, stream, pos, start, end, table, [](int) { return true; });
  }

  const std::vector<TraceEvent>& events() const { return events_; }
  std::vector<TraceEvent> TakeEvents() { return std::move(events_); }

 private:
  struct Traced {
    int rank;
    const RankSchedule* schedule;
  };
  std::vector<std::vector<Traced>> by_class_;
  std::vector<TraceEvent> events_;
  bool any_ = false;
};

}  // namespace ringlab::sim
