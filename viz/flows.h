// Message arrows for the whole trace: the flows the files carry (ph s/t/f, bound by the loader), or, for traces
// written without them, each recv joined to its send by (sender = the recv's peer, receiver, step). No ImGui.
//
//   FlowSet f = MessageFlows(model);   // f.flows[i]: from -> to, a send to its recv
#pragma once

#include <vector>

#include "viz/model.h"

namespace ringlab::viz {

struct FlowSet {
  std::vector<Flow> flows;  // sorted by the earlier start of their two events
  double max_reach_us = 0;  // largest (later end - earlier start) of a flow: bounds the search for a window
  bool derived = false;     // from send/recv pairs, not the files' flow events
};

// The model's own flows when it has any, else the derived send -> recv pairs.
FlowSet MessageFlows(const TraceModel& m);

// Flows touching [t0, t1] (either event, or the arrow crossing it), at most `limit`. O(log n + visible).
void VisibleFlows(const TraceModel& m, const FlowSet& f, double t0, double t1, size_t limit, std::vector<Flow>* out);

}  // namespace ringlab::viz
