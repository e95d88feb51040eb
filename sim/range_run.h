// The rank-range run: an exact fast path for ring pass-KV (method alltoall, no Ulysses) whose rank programs differ
// (e.g. the calibrated profile's two head-tail block orientations), where no shift symmetry exists and the general
// engine would take O(W²) events. Runs the rank-range engine (range_engine.h) over blocks of P ranks (the topology's
// route period) and returns the general engine's per-rank totals, op/event/flow counts and transfer tally.
//
// Applies when every comm op is a send to the next rank or a receive from the previous one, the world holds at least
// three blocks and the ranks' programs differ little between neighbouring blocks (RangeSplitIndex within its budget);
// `why_not` names what failed otherwise, including a case the engine met that it cannot prove exact (the caller then
// runs the general engine).
#pragma once

#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/engine_params.h"
#include "sim/program_table.h"
#include "sim/topology.h"
#include "sim/trace_recorder.h"
#include "sim/transfer_tally.h"

namespace ringlab::sim {

struct RangeRun {
  std::vector<RankTotals> totals;  // per rank (W entries)
  EngineStats stats;               // for all W ranks, as the general engine counts them
  TransferTally transfers;         // for all W ranks
  int period = 0;                  // ranks per block
  int max_ranges = 0;              // the most ranges alive at once
  std::vector<TraceEvent> events;  // of the traced ranks
};

// The smallest P dividing W such that rank r → r ± 1 takes the same kind of route as r mod P → r mod P ± 1.
int RoutePeriod(const Topology& topo);

// Runs the range engine when it applies; *applied false (and *why_not set) when it does not or stopped. `traced`
// ranks get one trace event per op in out->events.
Status RunRanges(const Topology& topo, const EngineParams& params, const ProgramTable& table,
                 const TracedRanks& traced, RangeRun* out, bool* applied, std::string* why_not);

}  // namespace ringlab::sim
