#include "core/mask_balance.h"

#include <algorithm>
#include <numeric>
#include <queue>

#include "core/schedule_mask.h"
#include "core/sharding.h"

namespace ringlab {
namespace {

// Pieces i and 2W−1−i of [begin, end) cut into 2W near-equal pieces go to rank i.
void HeadTail(int64_t begin, int64_t end, int world, std::vector<TokenIntervals>* ranks) {
  const int64_t len = end - begin, pieces = 2 * int64_t(world);
  auto cut = [&](int64_t i) { return begin + len * i / pieces; };
  for (int r = 0; r < world; ++r)
    for (int64_t piece : {int64_t(r), pieces - 1 - r})
      if (cut(piece + 1) > cut(piece)) (*ranks)[r].push_back({cut(piece), cut(piece + 1)});
}

double PairsOf(const Mask& mask, int64_t seq, int64_t begin, int64_t end) {
  return mask.Classify(begin, end, 0, seq).EffectivePairs(mask.causal());
}

Status Greedy(const Problem& p, int world, std::vector<TokenIntervals>* ranks) {
  const Mask mask = p.AttentionMask();
  const std::vector<int64_t> whole{0, p.seq};
  const std::vector<int64_t>& cu = p.mask.documents ? *p.mask.documents : whole;
  const size_t docs = cu.size() - 1;
  std::vector<double> work(docs);
  for (size_t d = 0; d < docs; ++d) work[d] = PairsOf(mask, p.seq, cu[d], cu[d + 1]);
  const double mean = std::accumulate(work.begin(), work.end(), 0.0) / world;
  std::vector<size_t> order(docs);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return work[a] > work[b]; });
  std::vector<double> load(world, 0);
  using Entry = std::pair<double, int>;  // (work so far, rank): the least loaded rank on top
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  for (size_t d : order) {
    if (work[d] > mean) {  // too heavy for one rank: everyone takes a balanced share
      HeadTail(cu[d], cu[d + 1], world, ranks);
      for (int r = 0; r < world; ++r) {
        for (const auto& [b, e] : (*ranks)[r])
          if (b >= cu[d] && e <= cu[d + 1]) load[r] += PairsOf(mask, p.seq, b, e);
      }
      continue;
    }
    if (heap.empty())
      for (int r = 0; r < world; ++r) heap.push({load[r], r});
    const auto [w, r] = heap.top();
    heap.pop();
    (*ranks)[r].push_back({cu[d], cu[d + 1]});
    heap.push({w + work[d], r});
  }
  return Status::Ok();
}

}  // namespace

std::string_view BalanceLayoutName(BalanceLayout l) {
  switch (l) {
    case BalanceLayout::kContiguous: return "contiguous";
    case BalanceLayout::kHeadTail: return "head-tail";
    case BalanceLayout::kDocHeadTail: return "doc-head-tail";
    case BalanceLayout::kGreedy: return "greedy";
  }
  return "?";
}

std::optional<BalanceLayout> ParseBalanceLayout(std::string_view name) {
  for (BalanceLayout l : kBalanceLayouts)
    if (name == BalanceLayoutName(l)) return l;
  return std::nullopt;
}

Status AssignTokens(const Problem& p, int world, BalanceLayout layout, std::vector<TokenIntervals>* ranks) {
  if (world < 1) return Status::InvalidArgument("world must be >= 1 (got " + std::to_string(world) + ")");
  RINGLAB_RETURN_IF_ERROR(ValidateProblem(p));
  ranks->assign(world, {});
  switch (layout) {
    case BalanceLayout::kContiguous:
      for (int r = 0; r < world; ++r) {
        const int64_t b = p.seq * r / world, e = p.seq * (r + 1) / world;
        if (e > b) (*ranks)[r].push_back({b, e});
      }
      return Status::Ok();
    case BalanceLayout::kHeadTail: HeadTail(0, p.seq, world, ranks); return Status::Ok();
    case BalanceLayout::kDocHeadTail: {
      if (!p.mask.documents) {
        HeadTail(0, p.seq, world, ranks);
        return Status::Ok();
      }
      const std::vector<int64_t>& cu = *p.mask.documents;
      for (size_t d = 0; d + 1 < cu.size(); ++d) HeadTail(cu[d], cu[d + 1], world, ranks);
      return Status::Ok();
    }
    case BalanceLayout::kGreedy: return Greedy(p, world, ranks);
  }
  return Status::InvalidArgument("unknown layout");
}

Status StudyBalance(const Problem& p, int world, BalanceLayout layout, const StepModel& model, BalanceReport* out) {
  std::vector<TokenIntervals> ranks;
  RINGLAB_RETURN_IF_ERROR(AssignTokens(p, world, layout, &ranks));
  const Mask mask = p.AttentionMask();
  *out = BalanceReport{.layout = layout, .work = std::vector<double>(world, 0), .tokens = std::vector<int64_t>(world, 0)};
  for (int r = 0; r < world; ++r)
    for (const auto& [b, e] : ranks[r]) {
      out->work[r] += PairsOf(mask, p.seq, b, e);
      out->tokens[r] += e - b;
    }
  // Ring reach: the most ranks one document spreads over, less one (K/V of a document must reach every rank that
  // holds part of it; documents on one rank need no communication).
  std::vector<int> ranks_of(size_t(p.mask.DocumentCount()), 0), last_rank(ranks_of.size(), -1);
  for (int r = 0; r < world; ++r)
    for (const auto& [b, e] : ranks[r])
      for (int64_t d = mask.DocumentOf(b); d <= mask.DocumentOf(e - 1); ++d)
        if (last_rank[d] != r) last_rank[d] = r, ++ranks_of[d];
  out->reach = std::min(world - 1, std::max(0, *std::max_element(ranks_of.begin(), ranks_of.end()) - 1));
  // Contiguous and head-tail are shardings: their ring's reach is the schedule's (core/schedule_mask.h), in ring
  // order. It matters for head-tail: a tail chunk's document neighbour sits on the next rank, W − 1 hops away along
  // the ring, which the spread count above misses.
  if (layout == BalanceLayout::kContiguous || layout == BalanceLayout::kHeadTail) {
    const ShardingKind kind = layout == BalanceLayout::kHeadTail ? ShardingKind::kHeadTail : ShardingKind::kContiguous;
    if (Sharding::Validate(kind, world, p.seq, p.causal).ok()) {
      const std::shared_ptr<const std::vector<int>> reach = RingReach(mask, Sharding(kind, world, p));
      out->reach = *std::max_element(reach->begin(), reach->end());
    }
  }
  out->max_work = *std::max_element(out->work.begin(), out->work.end());
  out->mean_work = std::accumulate(out->work.begin(), out->work.end(), 0.0) / world;
  out->max_tokens = *std::max_element(out->tokens.begin(), out->tokens.end());
  const double flops_per_pair = 4.0 * p.batch * p.heads * p.head_dim;
  if (model.attend_us) {  // the ring's reach + 1 blocks per rank, each over the largest shard
    const int blocks = out->reach + 1;
    for (int r = 0; r < world; ++r)
      if (out->tokens[r] > 0)
        out->compute_us = std::max(
            out->compute_us, blocks * model.attend_us(out->tokens[r], out->max_tokens, out->work[r] / blocks));
  } else {
    out->compute_us = out->max_work * flops_per_pair / (model.tflops * 1e6);
  }
  const int64_t hop_bytes = p.KvBytes(out->max_tokens);
  out->hop_us = world == 1 ? 0 : model.hop_us ? model.hop_us(hop_bytes) : double(hop_bytes) / (model.link_gbps * 1e3);
  out->step_us = std::max(out->compute_us, out->reach * out->hop_us) + (out->reach > 0 ? out->hop_us : 0);
  return Status::Ok();
}

Status ChooseLayout(const Problem& p, int world, const StepModel& model, std::vector<BalanceReport>* reports,
                    int* best) {
  reports->clear();
  *best = 0;
  for (BalanceLayout l : kBalanceLayouts) {
    BalanceReport rep;
    RINGLAB_RETURN_IF_ERROR(StudyBalance(p, world, l, model, &rep));
    reports->push_back(std::move(rep));
    if (reports->back().step_us < (*reports)[*best].step_us) *best = int(reports->size()) - 1;
  }
  return Status::Ok();
}

}  // namespace ringlab
