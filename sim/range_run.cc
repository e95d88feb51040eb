#include "sim/range_run.h"


#include "sim/range_engine.h"
#include "sim/range_split_index.h"

namespace ringlab::sim {

int RoutePeriod(const Topology& topo) {
  const int w = topo.world();
  for (int p = 1; p < w; ++p) {
    if (w % p != 0) continue;
    bool ok = true;
    for (int r = p; r < w && ok; ++r)
      for (int o : {1, w - 1})
        if (topo.SameNode(r, (r + o) % w) != topo.SameNode(r % p, (r % p + o) % w)) ok = false;
    if (ok) return p;
  }
  return w;
}

namespace {

// Empty when every comm op is a plain send to the next rank or receive from the previous one.
std::string UnsupportedOps(const ProgramTable& table) {
  const int w = table.world();
  for (const RankProgram& p : table.sources())
    for (const SimOp& op : p.streams[1]) {
      const bool send = op.kind == OpKind::kSend && op.peer_offset == 1 % w;
      const bool recv = op.kind == OpKind::kRecv && op.peer_offset == (w - 1) % w;
      if ((!send && !recv) || op.group_size > 0)
        return std::string("a comm op (") + std::string(OpKindName(op.kind)) + ", peer offset " +
               std::to_string(op.peer_offset) + ") other than a send to the next rank or a receive from the previous";
    }
  return "";
}

}  // namespace

Status RunRanges(const Topology& topo, const EngineParams& params, const ProgramTable& table,
                 const TracedRanks& traced, RangeRun* out, bool* applied, std::string* why_not) {
  *applied = false;
  const int w = topo.world();
  if (table.world() != w) return Status::Ok();
  *why_not = UnsupportedOps(table);
  if (!why_not->empty()) return Status::Ok();
  int period = RoutePeriod(topo);
  // A block of one rank would make a rank and its ring neighbour one representative, whose single handler then
  // plays both ends of a transfer; the general engine runs them one after the other, and the stale-event count can
  // depend on that order. Blocks of two ranks (or more) keep the two ends apart.
  if (period == 1 && w % 2 == 0) period = 2;
  if (period == 1) {
    *why_not = "every rank takes the same route and W is odd (blocks of one rank are not supported)";
    return Status::Ok();
  }
  if (w / period < 3) {
    *why_not = "fewer than three blocks of " + std::to_string(period) + " ranks";
    return Status::Ok();
  }
  RangeSplitIndex index;
  if (!index.Build(table, period, 400 * int64_t(w) + 4000000)) {
    *why_not = "neighbouring ranks' programs differ too widely (over " + std::to_string(index.compared_ops()) +
               " ops compared)";
    return Status::Ok();
  }
  RangeEngine engine(topo, params, table, index, period);
  for (const auto& [rank, schedule] : traced) engine.TraceRank(rank, schedule);
  RINGLAB_RETURN_IF_ERROR(engine.Run());
  if (engine.broken()) {
    *why_not = engine.why_broken();
    return Status::Ok();
  }
  out->totals = engine.totals();
  out->stats = engine.stats();
  out->transfers = engine.transfers();
  out->period = period;
  out->max_ranges = engine.max_ranges();
  out->events = engine.events();
  *applied = true;
  return Status::Ok();
}

}  // namespace ringlab::sim
