#include "sim/wave_model.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>

#include "kernels/cuda/attention_tiles.h"

namespace ringlab::sim {

double WaveModel::RoundUs(double n) const {
  if (cost.enabled) return n > 0 ? cost.CtaUs(n, 0) : 0;
  if (round_us.empty()) return ctas_per_sm * (n + cta_overhead_tiles) * tile_us;
  if (n <= 0) return 0;
  // Outside the table: a fixed cost per CTA plus a steady cost per tile, R = a + b·n, through the end segment, with
  // a in [0, R at the end point] (so R never falls below proportional nor rises as n shrinks).
  auto affine = [n](std::pair<double, double> end, std::pair<double, double> other) {
    const double b = (other.second - end.second) / (other.first - end.first);
    const double a = std::clamp(end.second - b * end.first, 0.0, end.second);
    return a + (end.second - a) / end.first * n;
  };
  const auto& first = round_us.front();
  const auto& last = round_us.back();
  if (n >= last.first) return round_us.size() > 1 ? affine(last, round_us[round_us.size() - 2]) : last.second * n / last.first;
  if (n <= first.first) return round_us.size() > 1 ? affine(first, round_us[1]) : first.second * n / first.first;
  size_t i = 1;
  while (round_us[i].first < n) ++i;
  const auto [x0, y0] = round_us[i - 1];
  const auto [x1, y1] = round_us[i];
  const double f = std::log(n / x0) / std::log(x1 / x0);
  return std::exp(std::log(y0) + f * (std::log(y1) - std::log(y0)));
}

double WaveModel::Ctas(int64_t q, int64_t kv, double h, int batch, double group) const {
  const double tq = std::ceil(double(q) / tile_q), tkv = std::ceil(double(kv) / tile_kv);
  return grid_kv ? std::max(1.0, std::round(batch * h / group)) * tkv : std::max(1.0, std::round(batch * h)) * tq;
}

double WaveModel::GroupPerCta(int64_t q, int64_t kv, double h, int batch, double group, bool causal) const {
  if (grid_kv && group_walk == GroupWalk::kExpand) return 1;
  if (!grid_kv || group_walk != GroupWalk::kSplit || group <= 1) return group;
  const double key_block_ctas = Ctas(q, kv, h, batch, group);
  const int splits =
      cuda::tiles::BackwardGroupSplits(std::llround(key_block_ctas), int(std::lround(group)), sms, causal);
  return group / splits;
}

double WaveModel::TilesPerCta(int64_t q, int64_t kv, double pairs, double group) const {
  const double fill = pairs / (double(q) * double(kv));
  return (grid_kv ? std::ceil(double(q) / tile_q) * group : std::ceil(double(kv) / tile_kv)) * fill;
}

double WaveModel::EffectiveRounds(double ctas) const {
  const double slots = double(sms) * ctas_per_sm;
  const double full = std::floor(ctas / slots);
  const double r = ctas - full * slots;
  double rounds = full;
  if (r > 0) {
    const double m = std::ceil(r / sms);
    const double theta = (m >= ctas_per_sm || ctas_per_sm <= 1)
                             ? 1.0
                             : single_resident_throughput + (1 - single_resident_throughput) * (m - 1) / (ctas_per_sm - 1);
    rounds += m / (ctas_per_sm * theta);
  }
  return rounds;
}

double WaveModel::EqualLoad(double ctas) const {
  const double rounds = EffectiveRounds(ctas);
  return rounds > 0 ? std::min(1.0, ctas / (double(sms) * ctas_per_sm * rounds)) : 0;
}

double WaveModel::KernelUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group) const {
  if (q <= 0 || kv <= 0 || pairs <= 0) return 0;
  const double ctas = Ctas(q, kv, h, batch, group);
  const double busy = EffectiveRounds(ctas) * RoundUs(TilesPerCta(q, kv, pairs, group));
  return KernelFixedUs() + cost.ClockedUs(busy, EqualLoad(ctas));
}

double WaveModel::FirstIdleUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group) const {
  if (q <= 0 || kv <= 0 || pairs <= 0) return 0;
  const double ctas = Ctas(q, kv, h, batch, group);
  const double slots = double(sms) * ctas_per_sm;
  if (ctas < slots) return 0;
  const double full = std::floor(ctas / slots);
  const double round = RoundUs(TilesPerCta(q, kv, pairs, group));
  const double cap = cost.ClockFactor(EffectiveRounds(ctas) * round, EqualLoad(ctas));
  return (ctas - full * slots > 0 ? full * round : EffectiveRounds(ctas) * round) * cap;
}

double WaveModel::DisplacedTailUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group,
                                  int nccl_sms) const {
  if (q <= 0 || kv <= 0 || pairs <= 0 || nccl_sms <= 0) return 0;
  const double ctas = Ctas(q, kv, h, batch, group);
  const double slots = double(sms) * ctas_per_sm;
  const double full = std::floor(ctas / slots);
  const double last = ctas - full * slots;
  if (full < 1 || last <= slots - double(nccl_sms) * ctas_per_sm) return 0;
  const double round = RoundUs(TilesPerCta(q, kv, pairs, group));
  return round * cost.ClockFactor(EffectiveRounds(ctas) * round, EqualLoad(ctas));
}

std::vector<std::pair<double, double>> WaveModel::CausalWork(int64_t q, int64_t kv, int64_t off, double group) const {
  std::vector<std::pair<double, double>> work;
  const int64_t tq = (q + tile_q - 1) / tile_q, tkv = (kv + tile_kv - 1) / tile_kv;
  if (!grid_kv) {  // forward: a CTA per q tile, heaviest (last rows) first; it sees keys up to its last row + off
    for (int64_t i = tq - 1; i >= 0; --i) {
      const int64_t first_row = i * tile_q, last_row = std::min(q - 1, (i + 1) * tile_q - 1);
      const int64_t last_key = std::min(kv - 1, last_row + off);
      const double seen = last_key < 0 ? 0.0 : double(std::min(tkv, last_key / tile_kv + 1));
      // Key tiles every row of the CTA sees whole: their last key at or before the first row's last visible key.
      const int64_t edge = first_row + off;
      const double whole = edge < 0 ? 0.0 : edge >= kv - 1 ? double(tkv) : double((edge + 1) / tile_kv);
      work.emplace_back(seen, seen - std::min(seen, whole));
    }
  } else {  // backward: a CTA per kv tile, heaviest (first keys) first; it sees query rows from its first key − off
    for (int64_t j = 0; j < tkv; ++j) {
      const int64_t first_row = std::max<int64_t>(0, j * tile_kv - off);
      const double seen = first_row >= q ? 0.0 : double(tq - first_row / tile_q);
      // Query tiles whose first row sees the CTA's last key: from ceil((last key − off) / tile_q) on.
      const int64_t last_key = std::min(kv - 1, (j + 1) * tile_kv - 1);
      const int64_t from = std::max<int64_t>(0, (last_key - off + tile_q - 1) / tile_q);
      const double whole = double(std::max<int64_t>(0, tq - from));
      work.emplace_back(seen * group, (seen - std::min(seen, whole)) * group);
    }
  }
  if (light_first) std::reverse(work.begin(), work.end());
  return work;
}

namespace {

// List scheduling of `heads` copies of `cost` (one per CTA, launch order) on `slots` slots: the last slot's end, and
// (when every slot got a CTA) the earliest free slot's end, the moment one first goes idle with no CTA left.
std::pair<double, double> ListSchedule(const std::vector<double>& cost, int64_t heads, int64_t slots) {
  std::vector<double> free_at(std::min<int64_t>(slots, heads * int64_t(cost.size())), 0.0);
  double end = 0;
  for (int64_t hd = 0; hd < heads; ++hd)
    for (double c : cost) {
      std::pop_heap(free_at.begin(), free_at.end(), std::greater<>());
      free_at.back() += c;
      end = std::max(end, free_at.back());
      std::push_heap(free_at.begin(), free_at.end(), std::greater<>());
    }
  return {end, int64_t(free_at.size()) < slots ? 0.0 : free_at.front()};
}

}  // namespace

double WaveModel::CausalKernelUs(int64_t q, int64_t kv, int64_t off, double h, int batch, double group,
                                 double* first_idle_us) const {
  if (first_idle_us) *first_idle_us = 0;
  if (q <= 0 || kv <= 0) return 0;
  return ListedKernelUs(CausalWork(q, kv, off, group), q, kv, h, batch, group, first_idle_us);
}

double WaveModel::ListedKernelUs(const std::vector<std::pair<double, double>>& work, int64_t q, int64_t kv, double h,
                                 int batch, double group, double* first_idle_us) const {
  if (first_idle_us) *first_idle_us = 0;
  if (q <= 0 || kv <= 0 || work.empty()) return 0;
  double total = 0, cost_sum = 0, busy = 0;
  for (auto [n, masked] : work) {
    total += n;
    if (n > 0) cost_sum += cost.CtaUs(n, masked), busy += 1;
  }
  const double slots = double(sms) * ctas_per_sm;
  const double per_head = double(work.size());
  if (total <= 0) return 0;
  const double all_ctas = Ctas(q, kv, h, batch, group);
  const int64_t heads = std::llround(all_ctas / per_head);
  // The cost form counts the CTAs that loop over some tile; the round table all of them (as it was fitted).
  const double ctas = cost.enabled ? double(heads) * busy : all_ctas;
  const double fixed = KernelFixedUs();
  if (ctas > 16 * slots) {
    const double round = cost.enabled ? cost_sum / busy : RoundUs(total / per_head), full = std::floor(ctas / slots);
    const double busy_us = EffectiveRounds(ctas) * round, factor = cost.ClockFactor(busy_us, EqualLoad(ctas));
    if (first_idle_us) *first_idle_us = (ctas - full * slots > 0 ? full : EffectiveRounds(ctas)) * round * factor;
    return fixed + busy_us * factor;
  }
  std::vector<double> cost_of(work.size());
  for (size_t i = 0; i < work.size(); ++i)
    cost_of[i] = work[i].first <= 0 ? 0 : cost.enabled ? cost.CtaUs(work[i].first, work[i].second)
                                                         : RoundUs(work[i].first);
  const auto [end, idle] = ListSchedule(cost_of, heads, int64_t(slots));
  double work_us = 0;  // one head's CTAs' summed slot time: the load is all heads' share of slots × end
  for (double c : cost_of) work_us += c;
  const double load = end > 0 ? std::min(1.0, double(heads) * work_us / (slots * end)) : 0;
  if (first_idle_us) *first_idle_us = idle * cost.ClockFactor(end, load);
  return fixed + cost.ClockedUs(end, load);
}

double WaveModel::PersistentKernelUs(const std::vector<std::pair<double, double>>& work, int64_t q, int64_t kv,
                                     double h, int batch, double group, double startup_us,
                                     double* first_idle_us) const {
  if (first_idle_us) *first_idle_us = 0;
  if (q <= 0 || kv <= 0 || work.empty()) return 0;
  const int64_t per_row = int64_t(work.size());
  const int64_t rows = std::max<int64_t>(1, std::llround(Ctas(q, kv, h, batch, group) / double(per_row)));
  const int64_t items = rows * per_row;
  const int64_t ctas = std::min<int64_t>(items, int64_t(sms) * ctas_per_sm);
  const double slots = double(sms) * ctas_per_sm;
  std::vector<double> cost_of(work.size());
  double row_us = 0;
  for (size_t i = 0; i < work.size(); ++i)
    row_us += cost_of[i] = work[i].first > 0 ? cost.CtaUs(work[i].first, work[i].second) : 0;
  if (row_us <= 0) return 0;
  double end = 0, first = 0, summed = 0;
  if (items > 16 * ctas) {  // many items per CTA: each CTA's share of the whole
    end = first = startup_us + row_us * double(rows) / double(ctas);
    summed = end * double(ctas);
  } else {
    // Item g = row · per_row + i (launch order): the first `ctas` to CTAs 0, 1, ... (blockIdx), each further one to
    // the CTA that frees first (the counter), the lowest index among equals; a CTA pays the startup with its first
    // item that has keys to walk.
    using Slot = std::pair<double, int64_t>;  // (free at, CTA)
    std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> free_at;
    std::vector<double> at(ctas, 0.0);
    std::vector<char> started(ctas, 0);
    int64_t g = 0;
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t i = 0; i < per_row; ++i, ++g) {
        int64_t c = g;
        if (g >= ctas) c = free_at.top().second, free_at.pop();
        if (cost_of[i] > 0) {
          at[c] += (started[c] ? 0 : startup_us) + cost_of[i];
          started[c] = 1;
        }
        free_at.push({at[c], c});
      }
    end = *std::max_element(at.begin(), at.end());
    first = *std::min_element(at.begin(), at.end());
    for (double t : at) summed += t;
  }
  const double load = end > 0 ? std::min(1.0, summed / (slots * end)) : 0;
  if (first_idle_us) *first_idle_us = first * cost.ClockFactor(end, load);
  return KernelFixedUs() + cost.ClockedUs(end, load);
}

int64_t HeldSlotsMakespan(int64_t ctas, int slots, int held_slots, int64_t round, int64_t held) {
  const int64_t b = std::clamp(held_slots, 0, slots - 1), a = slots - b;  // free from the launch / from `held`
  // Dispatch in time order: a slots free at 0, R, 2R, ...; b slots at held, held + R, ...
  int64_t left = ctas;
  int64_t ta = 0, tb = b > 0 ? held : std::numeric_limits<int64_t>::max() / 4, end = 0;
  while (left > 0) {
    const bool use_a = ta <= tb;
    int64_t& t = use_a ? ta : tb;
    const int64_t take = std::min(left, use_a ? a : b);
    end = std::max(end, t + round);
    left -= take;
    t += round;
  }
  return end;
}

}  // namespace ringlab::sim
