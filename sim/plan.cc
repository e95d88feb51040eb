#include "sim/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "core/ulysses_layout.h"
#include "sim/plan_search.h"

namespace ringlab::sim {
namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string LayoutName(const ScheduleConfig& c) {
  const int u = c.ulysses, r = c.world / c.ulysses;
  if (u == 1) return "ring W" + std::to_string(c.world);
  if (r == 1) return "Ulysses U" + std::to_string(u);
  return "U" + std::to_string(u) + "×R" + std::to_string(r) + " " + std::string(PlacementName(c.placement));
}

std::string MethodLabel(const ScheduleConfig& c) {
  if (c.ulysses == c.world) return "-";
  return c.method == Method::kAllToAll ? "ring" : "allgather";
}

// Whether every member of `rank`'s group lies on one node (block placement, `gpn` GPUs per node).
bool GroupInsideNode(const CommGroup& g, int gpn) { return g.Rank(0) / gpn == g.Rank(g.size - 1) / gpn; }

bool Better(const PlanRow& a, const PlanRow& b) {
  if (a.error.empty() != b.error.empty()) return a.error.empty();
  if (a.pruned != b.pruned) return !a.pruned;
  if (a.pruned) return a.lower_bound_ms < b.lower_bound_ms;
  if (a.over_capacity != b.over_capacity) return !a.over_capacity;
  if (a.step_ms != b.step_ms) return a.step_ms < b.step_ms;
  return a.forward_ms < b.forward_ms;
}

// The row among those `pick` accepts with the least step time (a pruned row counts with its lower bound: the best of
// them is at least that), or nullptr.
template <typename Pick>
const PlanRow* BestWhere(const std::vector<PlanRow>& rows, Pick pick) {
  const PlanRow* best = nullptr;
  auto known = [](const PlanRow& r) { return r.pruned ? r.lower_bound_ms : r.step_ms; };
  for (const PlanRow& r : rows)
    if (r.error.empty() && !r.over_capacity && pick(r) && (!best || known(r) < known(*best))) best = &r;
  return best;
}

std::string Reason(const PlanResult& plan) {
  if (plan.rows.empty() || !plan.rows.front().error.empty()) return "no layout simulated successfully";
  const PlanRow& best = plan.rows.front();
  const ScheduleConfig& c = best.config;
  const UlyssesLayout layout(c);
  const int gpn = plan.spec.gpus_per_node;
  std::string why = best.layout + (best.method == "-" ? "" : " (" + best.method + ")") + " wins: ";
  if (c.ulysses > 1) {
    const bool inside = GroupInsideNode(layout.UlyssesGroup(0), gpn);
    why += "U=" + std::to_string(c.ulysses) + (inside ? " inside a node: all-to-all on NVLink" : " across nodes: "
                                                                                                    "all-to-all on the NICs");
    if (layout.KvReplication() > 1) why += " (K/V heads replicated " + std::to_string(layout.KvReplication()) + "×)";
  }
  if (layout.Ring() > 1) {
    const bool inside = GroupInsideNode(layout.RingGroup(0), gpn);
    why += std::string(c.ulysses > 1 ? ", " : "") + (c.method == Method::kAllToAll ? "ring" : "all-gather") +
           (inside ? " inside a node" : " across nodes") +
           (best.exposed_ms < 0.05 * best.step_ms ? " hides under compute" : " is partly exposed");
  }
  why += "; exposed comm " + Fmt("%.1f", best.exposed_ms) + " of " + Fmt("%.1f", best.step_ms) + " ms";
  const PlanRow* ring = BestWhere(plan.rows, [](const PlanRow& r) { return r.config.ulysses == 1; });
  const PlanRow* uly = BestWhere(plan.rows, [](const PlanRow& r) { return r.config.ulysses == r.config.world; });
  // A pruned rival is known only by its bound: "at least".
  auto versus = [&](const PlanRow& r, const std::string& what) {
    const double ms = r.pruned ? r.lower_bound_ms : r.step_ms;
    return "; " + std::string(r.pruned ? "at least " : "") + Fmt("%.2f", ms / best.step_ms) + "× faster than " +
           what + " (" + (r.pruned ? "≥ " : "") + Fmt("%.1f", ms) + " ms)";
  };
  if (ring && ring != &best)
    why += versus(*ring, "the best plain context parallelism, " + ring->layout + " " + ring->method);
  if (uly && uly != &best) why += versus(*uly, "pure Ulysses");
  return why;
}

}  // namespace

std::vector<ScheduleConfig> PlanCandidates(const PlanSpec& spec, int* invalid_layouts) {
  const int w = spec.gpus_per_node * spec.nodes;
  std::vector<ScheduleConfig> out;
  int invalid = 0;
  for (int u = 1; u <= w; ++u) {
    if (w % u != 0) continue;
    ScheduleConfig base{.problem = spec.problem, .world = w, .ulysses = u};
    base.sharding = ShardingKind::kContiguous;
    if (!ValidateConfig(base).ok()) {
      ++invalid;
      continue;
    }
    const bool hybrid = u > 1 && u < w;
    // R = 1 has no ring: one method; with one ring shard per rank the shardings coincide.
    const std::vector<Method> methods = u == w ? std::vector<Method>{Method::kAllToAll} : spec.methods;
    for (Method m : methods)
      for (UlyssesPlacement pl : {UlyssesPlacement::kConsecutive, UlyssesPlacement::kStrided}) {
        if (pl == UlyssesPlacement::kStrided && !hybrid) continue;
        for (ShardingKind sh : spec.shardings) {
          ScheduleConfig cfg = base;
          cfg.method = m;
          cfg.placement = pl;
          cfg.sharding = sh;
          if (!ValidateConfig(cfg).ok()) continue;
          out.push_back(cfg);
          if (u == w) break;  // the first sharding that validates stands for all
        }
      }
  }
  if (invalid_layouts) *invalid_layouts = invalid;
  return out;
}

Status RunPlan(const PlanSpec& spec, const HardwareProfile& hw, PlanResult* out) {
  const auto t0 = std::chrono::steady_clock::now();
  if (spec.gpus_per_node < 1 || spec.nodes < 1)
    return Status::InvalidArgument("--gpus-per-node and --nodes must be positive");
  PlanResult plan;
  plan.spec = spec;
  plan.profile = hw.name;
  plan.world = spec.gpus_per_node * spec.nodes;
  RINGLAB_RETURN_IF_ERROR(ValidateProblem(spec.problem));
  const std::vector<ScheduleConfig> candidates = PlanCandidates(spec, &plan.invalid_layouts);
  if (candidates.empty()) {
    // Plain context parallelism (U = 1) fails for a reason the message can name (seq not divisible, ...).
    ScheduleConfig ring{.problem = spec.problem, .world = plan.world, .sharding = ShardingKind::kContiguous};
    const std::string none = "no valid layout for W = " + std::to_string(plan.world) + " GPUs";
    if (const Status why = ValidateConfig(ring); !why.ok())
      return Status::InvalidArgument(none + " (--gpus-per-node x --nodes): " + why.message());
    // Else every sharding asked for is refused (head-tail without a causal mask, ...): name the first one's reason.
    for (ShardingKind sh : spec.shardings) {
      ring.sharding = sh;
      if (const Status why = ValidateConfig(ring); !why.ok())
        return Status::InvalidArgument(none + " with --shardings " + std::string(ShardingName(sh)) + ": " +
                                       why.message());
    }
    return Status::InvalidArgument(none + " (--gpus-per-node x --nodes)");
  }
  SimOptions opt;
  opt.topology = TopologyConfig{.nodes = spec.nodes, .gpus_per_node = spec.gpus_per_node};
  opt.strict = spec.strict;
  const int workers = spec.workers > 0 ? spec.workers : std::max(1, int(std::thread::hardware_concurrency()));
  plan.rows = EvaluateCandidates(candidates, hw, opt, workers, spec.exhaustive);
  for (PlanRow& row : plan.rows) {
    row.layout = LayoutName(row.config);
    row.method = MethodLabel(row.config);
    plan.pruned += row.pruned;
  }
  std::stable_sort(plan.rows.begin(), plan.rows.end(), Better);
  const int hkv = spec.problem.kv_heads;
  if (plan.world > hkv)
    plan.kv_head_cap = "KV-head cap: Hkv=" + std::to_string(hkv) + " < W=" + std::to_string(plan.world) +
                       "; U > " + std::to_string(hkv) + " replicates each K/V head U/" + std::to_string(hkv) +
                       " times (counted in the all-to-all bytes and memory), and U is capped at H=" +
                       std::to_string(spec.problem.heads);
  plan.reason = Reason(plan);
  plan.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  *out = std::move(plan);
  return Status::Ok();
}

std::string PlanTable(const PlanResult& plan) {
  const Problem& p = plan.spec.problem;
  std::string s = "plan: H=" + std::to_string(p.heads) + " Hkv=" + std::to_string(p.kv_heads) + " D=" +
                  std::to_string(p.head_dim) + " S=" + std::to_string(p.seq) + " B=" + std::to_string(p.batch) +
                  (p.causal ? " causal" : " full") + " on " + std::to_string(plan.spec.nodes) + " node(s) × " +
                  std::to_string(plan.spec.gpus_per_node) + " GPUs (W=" + std::to_string(plan.world) +
                  "), profile " + plan.profile + "\n\n";
  s += "| # | layout | across R | sharding | fwd ms | fwd+bwd ms | exposed ms | mem GiB | notes |\n";
  s += "|---|---|---|---|---:|---:|---:|---:|---|\n";
  int i = 0;
  bool any_extrapolated = false;
  for (const PlanRow& r : plan.rows) {
    ++i;
    std::string notes = r.error.empty() ? "" : "error: " + r.error;
    if (r.over_capacity) notes += "OVER CAPACITY";
    if (r.alltoall_extrapolated) notes += std::string(notes.empty() ? "" : ", ") + "a2a extrapolated";
    any_extrapolated = any_extrapolated || r.alltoall_extrapolated;
    const std::string sh = r.config.ulysses == r.config.world ? "-" : std::string(ShardingName(r.config.sharding));
    if (r.pruned) notes += std::string(notes.empty() ? "" : ", ") + "pruned: compute alone needs the step shown";
    s += "| " + std::to_string(i) + " | " + r.layout + " | " + r.method + " | " + sh + " | " +
         (r.pruned ? "-" : Fmt("%.2f", r.forward_ms)) + " | " +
         (r.pruned ? "≥ " + Fmt("%.2f", r.lower_bound_ms) : Fmt("%.2f", r.step_ms)) + " | " +
         (r.pruned ? "-" : Fmt("%.2f", r.exposed_ms)) + " | " + Fmt("%.2f", r.memory_gib) + " | " + notes + " |\n";
  }
  s += "\n" + plan.reason + "\n";
  if (!plan.kv_head_cap.empty()) s += plan.kv_head_cap + "\n";
  if (plan.pruned > 0)
    s += std::to_string(plan.pruned) + " layout(s) not simulated: their compute alone exceeds the step time of a "
         "simulated layout (rerun with --exhaustive to simulate them)\n";
  if (plan.invalid_layouts > 0)
    s += std::to_string(plan.invalid_layouts) + " Ulysses degree(s) U dividing W were invalid for these heads\n";
  if (any_extrapolated)
    s += "all-to-all costs are extrapolated from the NVLink/NIC line (no measured all-to-all in the profile)\n";
  s += "memory: attention buffers per GPU (Q, K/V, out, lse, gradients, ring and head-sharded buffers), not weights\n";
  return s;
}

nlohmann::json PlanJson(const PlanResult& plan) {
  const Problem& p = plan.spec.problem;
  nlohmann::json rows = nlohmann::json::array();
  for (const PlanRow& r : plan.rows)
    rows.push_back({{"layout", r.layout},
                    {"ulysses", r.config.ulysses},
                    {"ring", r.config.world / r.config.ulysses},
                    {"placement", PlacementName(r.config.placement)},
                    {"method", r.method},
                    {"sharding", ShardingName(r.config.sharding)},
                    {"forward_ms", r.forward_ms},
                    {"backward_ms", r.backward_ms},
                    {"step_ms", r.step_ms},
                    {"exposed_comm_ms", r.exposed_ms},
                    {"compute_ms", r.compute_ms},
                    {"memory_gib", r.memory_gib},
                    {"over_capacity", r.over_capacity},
                    {"alltoall_cost", r.config.ulysses == 1         ? "none"
                                      : r.alltoall_extrapolated     ? "extrapolated"
                                                                    : "measured"},
                    {"error", r.error},
                    {"simulated", r.simulated},
                    {"pruned", r.pruned},
                    {"step_ms_lower_bound", r.lower_bound_ms}});
  return {{"problem",
           {{"heads", p.heads}, {"kv_heads", p.kv_heads}, {"head_dim", p.head_dim}, {"seq", p.seq},
            {"batch", p.batch}, {"causal", p.causal}}},
          {"gpus_per_node", plan.spec.gpus_per_node},
          {"nodes", plan.spec.nodes},
          {"world", plan.world},
          {"profile", plan.profile},
          {"rows", rows},
          {"best_reason", plan.reason},
          {"kv_head_cap", plan.kv_head_cap},
          {"invalid_ulysses_degrees", plan.invalid_layouts},
          {"pruned", plan.pruned},
          {"exhaustive", plan.spec.exhaustive},
          {"wall_s", plan.wall_s}};
}

}  // namespace ringlab::sim
