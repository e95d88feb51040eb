// Which events of a trace are the two ends of one message, for the flow arrows (Chrome "ph":"s"/"f") the trace
// writer draws: each send with the recv of its peer (matched by sender, receiver and tag, as the executors match
// them), and each all-to-all with the all-to-all of every other member of its group (matched by tag among the ranks
// of CollectiveGroup). Ends whose rank was not traced have no flow.
#pragma once

#include <cstddef>
#include <vector>

#include "core/trace.h"

namespace ringlab {

struct TraceFlow {
  size_t from = 0;  // index in Trace::events of the sending end
  size_t to = 0;    // index of the receiving end
};

// Every message between two traced events, in a deterministic order (by sending event, then receiving event).
std::vector<TraceFlow> MessageFlows(const Trace& trace);

}  // namespace ringlab
