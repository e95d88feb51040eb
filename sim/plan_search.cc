#include "sim/plan_search.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <numeric>
#include <thread>

#include "sim/cost_model.h"
#include "sim/rank_program.h"

namespace ringlab::sim {
namespace {

// Runs fn(0..n−1) on `workers` threads, each taking the next index.
template <typename Fn>
void ParallelFor(size_t n, int workers, Fn fn) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  const int threads = std::max(1, std::min<int>(workers, int(n)));
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < n;) fn(i);
    });
  for (std::thread& t : pool) t.join();
}

// What one pass's simulation says about a candidate.
struct PassOutcome {
  std::string error;
  double step_ms = 0, exposed_ms = 0, compute_ms = 0, memory_gib = 0;
  bool extrapolated = false;
};

PassOutcome SimulatePass(ScheduleConfig cfg, Pass pass, const HardwareProfile& hw, const SimOptions& opt) {
  cfg.pass = pass;
  SimResult res;
  PassOutcome o;
  if (const Status st = Simulate(cfg, hw, opt, &res); !st.ok()) {
    o.error = st.message();
    return o;
  }
  const RunSummary& s = res.summary;
  o.step_ms = s.step_time_us / 1e3;
  o.exposed_ms = s.exposed_comm_us / 1e3;
  o.compute_ms = s.max_compute_us / 1e3;
  o.memory_gib = double(s.peak_memory_bytes) / double(1 << 30);
  o.extrapolated = res.alltoall_extrapolated;
  return o;
}

void Combine(const PassOutcome& fwd, const PassOutcome& bwd, const HardwareProfile& hw, PlanRow* row) {
  for (const PassOutcome* o : {&fwd, &bwd}) {
    if (!o->error.empty()) {
      row->error = o->error;
      return;
    }
    (o == &fwd ? row->forward_ms : row->backward_ms) = o->step_ms;
    row->exposed_ms += o->exposed_ms;
    row->compute_ms += o->compute_ms;
    row->memory_gib = std::max(row->memory_gib, o->memory_gib);
    row->alltoall_extrapolated = row->alltoall_extrapolated || o->extrapolated;
  }
  row->step_ms = row->forward_ms + row->backward_ms;
  row->over_capacity = row->memory_gib > hw.memory_gib;
}

// Simulates both passes of candidates `which` (every pass one task; backward first, the longer one) into rows.
void SimulateRows(const std::vector<size_t>& which, const std::vector<ScheduleConfig>& candidates,
                  const HardwareProfile& hw, const SimOptions& opt, int workers, std::vector<PlanRow>* rows) {
  std::vector<PassOutcome> out(2 * which.size());
  ParallelFor(out.size(), workers, [&](size_t t) {
    const Pass pass = t % 2 == 0 ? Pass::kBackward : Pass::kForward;
    out[t] = SimulatePass(candidates[which[t / 2]], pass, hw, opt);
  });
  for (size_t k = 0; k < which.size(); ++k) {
    PlanRow& row = (*rows)[which[k]];
    row.simulated = true;
    Combine(out[2 * k + 1], out[2 * k], hw, &row);
  }
}

}  // namespace

double StepLowerBoundMs(const ScheduleConfig& forward, const HardwareProfile& hw, double* memory_gib) {
  const int w = forward.world;
  double total_us = 0, memory = 0;
  for (Pass pass : {Pass::kForward, Pass::kBackward}) {
    ScheduleConfig cfg = forward;
    cfg.pass = pass;
    const CostModel cost(hw, cfg);
    TimePs busiest = 0;
    for (int rank : {0, w / 2, w - 1}) {
      const RankProgram p = CompileRank(BuildRankSchedule(cfg, rank), rank, w, cost, hw.listed_start_order);
      TimePs compute = 0;
      for (const SimOp& op : p.streams[int(StreamKind::kCompute)]) compute += op.dur_ps;
      busiest = std::max(busiest, compute);
      memory = std::max(memory, double(p.memory_bytes) / double(1 << 30));
    }
    const double skew = w > 1 ? (pass == Pass::kForward ? hw.forward_start_skew_us : hw.backward_start_skew_us) : 0;
    total_us += double(busiest) * 1e-6 + skew;
  }
  if (memory_gib) *memory_gib = memory;
  return total_us / 1e3;
}

std::vector<PlanRow> EvaluateCandidates(const std::vector<ScheduleConfig>& candidates, const HardwareProfile& hw,
                                        const SimOptions& opt, int workers, bool exhaustive) {
  const size_t n = candidates.size();
  std::vector<PlanRow> rows(n);
  std::vector<double> memory(n);
  ParallelFor(n, workers, [&](size_t i) {
    rows[i].config = candidates[i];
    rows[i].lower_bound_ms = StepLowerBoundMs(candidates[i], hw, &memory[i]);
  });
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (exhaustive) {
    SimulateRows(order, candidates, hw, opt, workers, &rows);
    return rows;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rows[a].lower_bound_ms < rows[b].lower_bound_ms; });
  const size_t probe = std::min(n, size_t(std::max(workers, 2)));
  SimulateRows(std::vector<size_t>(order.begin(), order.begin() + probe), candidates, hw, opt, workers, &rows);
  double bar = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < probe; ++k) {
    const PlanRow& r = rows[order[k]];
    if (r.error.empty() && !r.over_capacity) bar = std::min(bar, r.step_ms);
  }
  std::vector<size_t> rest;
  for (size_t k = probe; k < n; ++k) {
    PlanRow& r = rows[order[k]];
    if (r.lower_bound_ms <= bar) {
      rest.push_back(order[k]);
      continue;
    }
    r.pruned = true;
    r.memory_gib = memory[order[k]];
    r.over_capacity = r.memory_gib > hw.memory_gib;
  }
  SimulateRows(rest, candidates, hw, opt, workers, &rows);
  return rows;
}

}  // namespace ringlab::sim
