// Load balancing for packed documents without padding: which global tokens each rank holds, the attention work that
// gives each rank under a mask, and a ring step-time estimate to choose a layout by.
//
// Layouts (every token on exactly one rank, documents never padded):
//   contiguous         S/W consecutive tokens per rank
//   head-tail          2W equal chunks, rank r holds chunks r and 2W−1−r (balances plain causal work)
//   doc-head-tail      every document cut into 2W pieces (sizes differ by at most a token; short documents leave
//                      some pieces empty), rank r holds pieces r and 2W−1−r of every document
//   greedy             whole documents handed out heaviest first to the rank with the least work so far (a min-heap,
//                      LPT); a document heavier than the mean work per rank is cut doc-head-tail over every rank
// Work of a rank = FLOP-counting (query, key) pairs of its queries under the mask (keys anywhere).
//
// Step-time estimate (analytic, not the event simulator: these layouts are not schedules yet): a ring forward pass
// overlaps compute with `reach` K/V hops of the largest shard, reach = the most ranks one document spreads over, less
// one (the ring is cut where no rank further on sees the K/V, as core/schedule_mask.h does; a window is not counted);
// for contiguous and head-tail, which are shardings, the schedule's own reach (RingReach, in ring order),
// so step = max(max_r compute_r, reach·hop) + hop (no hop when reach = 0), compute at `tflops`, hops at `link_gbps`;
// or, with a StepModel from a hardware profile, compute_r = the cost model's time of reach + 1 blocks of the rank's
// queries over the largest shard sharing its work, and a hop from the profile's measured transfer table.
//
//   BalanceReport rep;
//   Status st = StudyBalance(problem, /*world=*/64, BalanceLayout::kGreedy, StepModel{}, &rep);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/problem.h"
#include "core/status.h"

namespace ringlab {

enum class BalanceLayout { kContiguous, kHeadTail, kDocHeadTail, kGreedy };
inline constexpr BalanceLayout kBalanceLayouts[] = {BalanceLayout::kContiguous, BalanceLayout::kHeadTail,
                                                    BalanceLayout::kDocHeadTail, BalanceLayout::kGreedy};
std::string_view BalanceLayoutName(BalanceLayout l);
std::optional<BalanceLayout> ParseBalanceLayout(std::string_view name);

struct StepModel {
  double tflops = 450;     // attention forward rate
  double link_gbps = 50;   // one K/V hop (GB/s)
  // Measured costs instead of the two rates, when set (sim/balance_model.h fills them from a hardware profile): one
  // ring step's forward attention of a rank (q_tokens queries over kv_tokens keys, `pairs` FLOP-counting pairs under
  // the mask) and one K/V hop of `bytes`, in microseconds.
  std::function<double(int64_t q_tokens, int64_t kv_tokens, double pairs)> attend_us;
  std::function<double(int64_t bytes)> hop_us;
};

struct BalanceReport {
  BalanceLayout layout = BalanceLayout::kContiguous;
  std::vector<double> work;      // FLOP-counting pairs per rank
  std::vector<int64_t> tokens;   // tokens per rank
  double max_work = 0, mean_work = 0;
  int64_t max_tokens = 0;
  double compute_us = 0;  // the slowest rank's attention
  double hop_us = 0;      // one K/V hop of the largest shard
  int reach = 0;          // K/V hops of the ring (see above)
  double step_us = 0;     // the estimate above
  double Imbalance() const { return mean_work > 0 ? max_work / mean_work : 1; }
};

// Global token intervals [begin, end) each rank holds under `layout`.
using TokenIntervals = std::vector<std::pair<int64_t, int64_t>>;
Status AssignTokens(const Problem& p, int world, BalanceLayout layout, std::vector<TokenIntervals>* ranks);

Status StudyBalance(const Problem& p, int world, BalanceLayout layout, const StepModel& model, BalanceReport* out);

// Every layout, and the index of the one with the shortest estimated step.
Status ChooseLayout(const Problem& p, int world, const StepModel& model, std::vector<BalanceReport>* reports,
                    int* best);

}  // namespace ringlab
