// The phased run: an exact fast path for all-gather context parallelism (method allgather, no Ulysses) whose rank
// programs differ (e.g. the calibrated profile's two head-tail block orientations, or contiguous sharding), where no
// shift symmetry exists and the general engine would take O(W²) events.
//
// Such a run falls into phases that do not touch each other (checked on the programs before it runs):
//   1. every rank runs the same prefix: the all-gather (one collective over all ranks) beside the compute ops that do
//      not wait for it; this is shift-symmetric, so the symmetric engine runs it with P representatives;
//   2. once a rank's all-gather and prefix are done, its remaining compute ops wait only for the all-gather: they run
//      back to back with nothing in flight on that rank (its ports carry no flow, its comm stream is idle), so they
//      take exactly their durations, summed over the program table's segments (O(segments) per rank);
//   3. backward only: the reduce-scatter, which every rank posts when its compute is done and which starts when the
//      last rank has posted (T = the latest phase-2 end); from T on every rank is idle but for it, so it is again
//      shift-symmetric and runs on the symmetric engine, shifted by T.
// Per-rank totals, op/event/flow counts and transfer tallies are the general engine's (the tests compare them bit for
// bit at W ≤ 512). Anything outside these assumptions, or a symmetric phase that cannot prove itself exact, returns
// false and the caller runs the general engine.
#pragma once

#include <vector>

#include "sim/engine.h"
#include "sim/engine_params.h"
#include "sim/program_table.h"
#include "sim/topology.h"
#include "sim/trace_recorder.h"
#include "sim/transfer_tally.h"

namespace ringlab::sim {

struct PhasedRun {
  std::vector<RankTotals> totals;  // per rank (W entries)
  EngineStats stats;               // for all W ranks, as the general engine counts them
  TransferTally transfers;         // for all W ranks
  int period = 0;                  // representatives the symmetric phases simulated
  std::vector<TraceEvent> events;  // of the traced ranks
};

// Runs the phased path when it applies (see the file comment); false (and `out` unspecified) when it does not or a
// symmetric phase met a case it cannot prove exact. A non-Ok status is an engine error (a stall).
// `traced` ranks get one trace event per op in out->events.
Status RunPhased(const Topology& topo, const EngineParams& params, const ProgramTable& table,
                 const TracedRanks& traced, PhasedRun* out, bool* applied);

}  // namespace ringlab::sim
