// Dependencies between events across ranks, and the critical path. No ImGui.
//
// For a ringlab trace whose metadata carries the schedule config, the rank schedules are rebuilt with core's
// BuildRankSchedule (lazily, per rank) and give the exact `deps` and send/recv pairs (by tag). Otherwise they are
// derived: the previous event on the same lane, and a recv's send found by (sender = peer, receiver, step).
//
//   DepGraph g(model);
//   for (const DepEdge& d : g.DepsOf(selected)) DrawArrow(d.from, d.to);
//   std::vector<uint32_t> path = CriticalPath(model, &g);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "viz/model.h"

namespace ringlab::viz {

enum class DepType : uint8_t { kStream, kSchedule, kMessage };

struct DepEdge {
  uint32_t from = 0, to = 0;  // event indices: `to` depends on `from`
  DepType type = DepType::kStream;
};

class DepGraph {
 public:
  explicit DepGraph(const TraceModel& m);
  // Edges into `ev` (what it waits for) and out of it (what waits for it).
  std::vector<DepEdge> DepsOf(uint32_t ev);
  std::vector<DepEdge> DependantsOf(uint32_t ev);
  // True when the schedule could be rebuilt, so schedule deps and message pairs are exact.
  bool exact() const { return exact_; }

 private:
  const RankSchedule* Rank(int rank);
  int64_t MessagePartner(uint32_t ev);  // matching send/recv, or -1
  bool ScheduleMatches(const Event& e, const RankSchedule* rs) const;

  const TraceModel& m_;
  bool exact_ = false;
  ScheduleConfig cfg_;
  std::map<int, std::unique_ptr<RankSchedule>> ranks_;
  std::map<int, std::unordered_map<int64_t, std::vector<int32_t>>> tag_ops_;  // rank -> tag -> op ids
  bool derived_index_built_ = false;
  std::map<std::tuple<int, int, int>, uint32_t> sends_, recvs_;  // (sender, receiver, step) -> event
};

// The chain of events that set the run's end: from the last-ending event, repeatedly the dependency that was ready
// last (for a rendezvous send/recv, the partner when it was posted later). Returned first-to-last.
std::vector<uint32_t> CriticalPath(const TraceModel& m, DepGraph* g);

}  // namespace ringlab::viz
