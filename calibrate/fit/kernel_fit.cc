#include "calibrate/fit/kernel_fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace ringlab::calibrate {

using nlohmann::json;
using sim::WaveModel;

double Predict(const WaveModel& w, const KernelSample& s) {
  const double group = double(s.heads) / s.kv_heads;
  return s.mask == "causal" ? w.CausalKernelUs(s.q, s.kv, s.diagonal_offset, s.heads, s.batch, group)
                            : w.KernelUs(s.q, s.kv, s.pairs, s.heads, s.batch, group);
}

namespace {

WaveModel Geometry(const FitInputs& in, const std::string& pass, int head_dim, double theta, int ctas_per_sm) {
  const KernelGeometry& g = GeometryOf(in, pass, head_dim);
  WaveModel w;
  w.enabled = true;
  w.grid_kv = g.grid_kv;
  w.tile_q = g.tile_q;
  w.tile_kv = g.tile_kv;
  w.ctas_per_sm = ctas_per_sm;
  w.sms = in.sms;
  w.single_resident_throughput = theta;
  return w;
}

struct KernelFit {
  WaveModel wave;
  double median_abs_error = 0;
  size_t samples = 0;
};

// The round table for one (pass, mask, head dim) at a given θ: median of kernel time / effective rounds per
// quarter-octave bin of n (tiles per CTA).
void TableFor(const std::vector<const KernelSample*>& ks, WaveModel* w) {
  std::map<int, std::vector<std::pair<double, double>>> bins;  // bin -> (n, round us)
  for (const KernelSample* k : ks) {
    const double group = double(k->heads) / k->kv_heads;
    const double n = w->TilesPerCta(k->q, k->kv, k->pairs, group);
    const double rounds = w->EffectiveRounds(w->Ctas(k->q, k->kv, k->heads, k->batch, group));
    if (n <= 0 || rounds <= 0 || k->us <= 0) continue;
    bins[int(std::lround(4 * std::log2(n)))].emplace_back(n, k->us / rounds);
  }
  w->round_us.clear();
  for (auto& [b, pts] : bins) {
    std::vector<double> ns, rs;
    for (auto [n, r] : pts) ns.push_back(n), rs.push_back(r);
    const double n = MedianOf(ns);
    if (!w->round_us.empty() && n <= w->round_us.back().first) continue;
    w->round_us.emplace_back(n, MedianOf(rs));
  }
}

// Causal samples on the full-mask table scaled by one factor (see calibrate/fit/profile_fit.h).
KernelFit FitCausalOnFull(const WaveModel& full, const std::vector<const KernelSample*>& ks, double* factor) {
  std::vector<double> ratios;
  for (const KernelSample* s : ks) ratios.push_back(s->us / Predict(full, *s));
  *factor = MedianOf(ratios);
  KernelFit f{full, 0, ks.size()};
  for (auto& [n, us] : f.wave.round_us) us *= *factor;
  std::vector<double> errs;
  for (const KernelSample* s : ks) errs.push_back(std::abs(Predict(f.wave, *s) / s->us - 1));
  f.median_abs_error = MedianOf(errs);
  return f;
}

double MeanAbsLogError(const WaveModel& w, const std::vector<const KernelSample*>& ks) {
  double s = 0;
  for (const KernelSample* k : ks) s += std::abs(std::log(Predict(w, *k) / k->us));
  return ks.empty() ? 0 : s / ks.size();
}

// θ (the single-resident throughput) on a grid at `k` CTAs per SM, chosen by the mean |log error| (every sample
// counts: the partial-round ones are the few that see θ); the median |error| is what the report states. Writes the
// best table to *best and returns its score; INFINITY (and *best untouched) when no table came out.
double FitThetaAtK(const FitInputs& in, const std::string& pass, int head_dim,
                   const std::vector<const KernelSample*>& ks, int k, KernelFit* best) {
  double best_score = INFINITY;
  for (int step = 0; step <= (k > 1 ? 10 : 0); ++step) {
    const double theta = 1.0 - 0.05 * step;
    WaveModel w = Geometry(in, pass, head_dim, theta, k);
    TableFor(ks, &w);
    if (w.round_us.empty()) continue;
    std::vector<double> errs;
    double score = 0;
    for (const KernelSample* s : ks) {
      const double pred = Predict(w, *s);
      errs.push_back(std::abs(pred / s->us - 1));
      score += std::abs(std::log(pred / s->us)) / ks.size();
    }
    if (score < best_score - 1e-12) {
      best_score = score;
      *best = {w, MedianOf(errs), ks.size()};
    }
  }
  return best_score;
}

// `causal`: the same pass and head dim's causal samples (may be empty); they decide the CTAs per SM, see below.
KernelFit FitKernels(const FitInputs& in, const std::string& pass, int head_dim,
                     const std::vector<const KernelSample*>& ks, const std::vector<const KernelSample*>& causal) {
  KernelFit best;
  // ctas_per_sm 0 in the geometry: the kernel's occupancy is not known to the caller; try 1..4. With a partial-round
  // throughput of 1, k co-resident CTAs cost exactly what one CTA at a k-times faster round costs (the effective
  // rounds become ceil(CTAs / SMs) / k), so k shows only through θ < 1 and through the list scheduling of causal
  // blocks (k slots per SM, each CTA holding its slot for a round). With causal samples, k is the one that explains
  // full and causal samples together best; without, the smallest k within 10% of the best full-block score.
  const int given = GeometryOf(in, pass, head_dim).ctas_per_sm;
  std::vector<std::pair<double, KernelFit>> best_per_k;
  for (int k = given > 0 ? given : 1; k <= (given > 0 ? given : 4); ++k) {
    const double best_score = FitThetaAtK(in, pass, head_dim, ks, k, &best);
    if (best_score == INFINITY) continue;
    double score = best_score;
    if (!causal.empty()) {
      double factor = 0;
      const KernelFit cf = FitCausalOnFull(best.wave, causal, &factor);
      score = (best_score * ks.size() + MeanAbsLogError(cf.wave, causal) * causal.size()) / (ks.size() + causal.size());
    }
    best_per_k.emplace_back(score, best);
  }
  if (!causal.empty()) {
    const auto it = std::min_element(best_per_k.begin(), best_per_k.end(),
                                     [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it != best_per_k.end()) return it->second;
  }
  double lowest = INFINITY;
  for (const auto& [score, fit] : best_per_k) lowest = std::min(lowest, score);
  for (const auto& [score, fit] : best_per_k)  // increasing k
    if (score <= 1.1 * lowest + 1e-4) return fit;
  return best;
}

// (pass, mask, head dim, mode) -> its samples.
using KernelGroups =
    std::map<std::tuple<std::string, std::string, int, std::string>, std::vector<const KernelSample*>>;

// The profile's entry for one fitted table (`factor` > 0: the causal table is the full one times it).
json TableEntry(const std::string& pass, const std::string& mask, int d, const std::string& mode, const KernelFit& f,
                size_t samples, double factor, const std::string& tag) {
  json rt = json::array();
  for (auto [n, us] : f.wave.round_us) rt.push_back({std::round(n * 1e3) / 1e3, std::round(us * 1e3) / 1e3});
  char err[32];
  snprintf(err, sizeof err, "%.1f%%", 100 * f.median_abs_error);
  char how[96] = "";
  if (factor > 0) snprintf(how, sizeof how, "the full-mask table x %.3f (median measured / predicted), ", factor);
  json e = {{"pass", pass}, {"mask", mask}, {"head_dim", d},
          {"source", tag + ": kernel wave model with a measured round table, " + how + std::to_string(samples) +
                         " kernel samples (median |error| on them " + err + ")"},
          {"wave", {{"grid", f.wave.grid_kv ? "kv" : "q"}, {"tile_q", f.wave.tile_q}, {"tile_kv", f.wave.tile_kv},
                    {"sms", f.wave.sms}, {"ctas_per_sm", f.wave.ctas_per_sm},
                    {"single_resident_throughput", f.wave.single_resident_throughput}, {"round_us", rt}}}};
  if (!mode.empty()) e["mode"] = mode;
  return e;
}

// The ranges the samples span (profile.h AttentionTable::measured_*): sequences × query heads, and CTAs per kernel
// under the fitted geometry; the cost model counts ops outside them as extrapolated.
json MeasuredRanges(const WaveModel& w, const std::vector<const KernelSample*>& ks) {
  double bh_lo = 1e300, bh_hi = 0, cta_lo = 1e300, cta_hi = 0;
  for (const KernelSample* k : ks) {
    const double bh = double(k->batch) * k->heads;
    const double ctas = w.Ctas(k->q, k->kv, k->heads, k->batch, double(k->heads) / std::max(1, k->kv_heads));
    bh_lo = std::min(bh_lo, bh), bh_hi = std::max(bh_hi, bh);
    cta_lo = std::min(cta_lo, ctas), cta_hi = std::max(cta_hi, ctas);
  }
  return {{"batch_heads", {bh_lo, bh_hi}}, {"ctas", {cta_lo, cta_hi}}};
}

// Replaces the entry of the same (pass, mask, head dim, mode) in `tables`, or appends `entry`. A merge table also
// replaces a base entry without a mode: forward tables were timed in merge mode before the mode was recorded.
void ReplaceOrAppend(const std::string& pass, const std::string& mask, int d, const std::string& mode,
                     const json& entry, json* tables) {
  bool replaced = false;
  for (json& old : *tables)
    if (old.value("pass", "") == pass && old.value("mask", "") == mask && old.value("head_dim", 0) == d &&
        (old.value("mode", "") == mode || (mode == "merge" && old.value("mode", "") == ""))) {
      old = entry;
      replaced = true;
    }
  if (!replaced) tables->push_back(entry);
}

}  // namespace

FittedTables FitAttentionTables(const FitInputs& in, const std::string& tag, json* profile, json* report) {
  KernelGroups groups;
  for (const KernelSample& k : in.kernels) groups[{k.pass, k.mask, k.head_dim, k.mode}].push_back(&k);
  json& tables = (*profile)["compute"]["attention"];
  if (!tables.is_array()) tables = json::array();
  std::map<std::tuple<std::string, int, std::string>, WaveModel> full_fits;  // (pass, head dim, mode)
  FittedTables fitted;
  // "full" sorts after "causal": fit the full tables first so the causal ones can lean on them.
  std::vector<std::pair<KernelGroups::key_type, KernelGroups::mapped_type>> ordered(groups.begin(), groups.end());
  std::stable_partition(ordered.begin(), ordered.end(), [](const auto& g) { return std::get<1>(g.first) == "full"; });
  for (const auto& [key, ks] : ordered) {
    const auto& [pass, mask, d, mode] = key;
    KernelFit f;
    double factor = 0;
    auto full = full_fits.find({pass, d, mode});
    if (mask == "causal" && full != full_fits.end()) {
      f = FitCausalOnFull(full->second, ks, &factor);
    } else {
      static const std::vector<const KernelSample*> kNone;
      auto c = groups.find({pass, "causal", d, mode});
      f = FitKernels(in, pass, d, ks, mask == "full" && c != groups.end() ? c->second : kNone);
    }
    if (f.wave.round_us.empty()) continue;
    if (mask == "full") full_fits[{pass, d, mode}] = f.wave;
    if (mode != "overwrite") fitted[{pass, mask, d}] = f.wave;  // ring steps beside transfers merge
    json entry = TableEntry(pass, mask, d, mode, f, ks.size(), factor, tag);
    entry["measured"] = MeasuredRanges(f.wave, ks);
    ReplaceOrAppend(pass, mask, d, mode, entry, &tables);
    (*report)["attention " + pass + (mode == "overwrite" ? " overwrite" : "") + " " + mask + " " + std::to_string(d)] = {
        {"samples", ks.size()}, {"median_abs_error", f.median_abs_error},
        {"single_resident_throughput", f.wave.single_resident_throughput}, {"round_points", f.wave.round_us.size()},
        {"ctas_per_sm", f.wave.ctas_per_sm},
        {"causal_factor_on_full", factor}};
  }
  return fitted;
}

}  // namespace ringlab::calibrate
