#include "calibrate/fit/profile_fit.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "calibrate/fit/kernel_fit.h"
#include "sim/profile.h"
#include "sim/wave_model.h"

namespace ringlab::calibrate {
namespace {

using nlohmann::json;
using sim::WaveModel;

json Sourced(double value, const std::string& source) {
  return {{"value", std::round(value * 1e4) / 1e4}, {"source", source}};
}

// [[size, median of its samples], ...] ascending: a measured table for the profile.
json MedianPoints(const std::map<int64_t, std::vector<double>>& by_size) {
  json pts = json::array();
  for (const auto& [size, v] : by_size) pts.push_back({size, MedianOf(v)});
  return pts;
}

// The profile being fitted: the base with fitted numbers written over it, the report of what was fitted from how many
// samples, and the prefix of every fitted number's source.
struct Draft {
  json profile;
  json report = json::object();
  std::string tag;
};

// Least-squares line through (bytes, median us per size): returns false when it is not a usable rate.
bool FitLine(const std::map<int64_t, std::vector<double>>& by_size, double* gbps, double* latency_us) {
  std::vector<std::pair<double, double>> pts;
  for (const auto& [b, us] : by_size) pts.emplace_back(double(b), MedianOf(us));
  if (pts.size() < 2) {
    if (pts.empty()) return false;
    *gbps = pts[0].first / pts[0].second / 1e3;
    *latency_us = 0;
    return true;
  }
  double mx = 0, my = 0;
  for (auto [x, y] : pts) mx += x / pts.size(), my += y / pts.size();
  double sxx = 0, sxy = 0;
  for (auto [x, y] : pts) sxx += (x - mx) * (x - mx), sxy += (x - mx) * (y - my);
  if (sxx <= 0 || sxy <= 0) return false;
  const double slope = sxy / sxx;  // us per byte
  *gbps = 1e-3 / slope;
  *latency_us = std::max(0.0, my - slope * mx);
  return true;
}

// Host numbers of real runs: the gap between back-to-back kernels and the spread of the ranks' first ops per pass.
void FitHostNumbers(const FitInputs& in, Draft* d) {
  if (in.launch_gaps_us.size() >= 3) {
    const double v = std::max(0.0, MedianOf(in.launch_gaps_us));
    d->profile["compute"]["launch_us"] =
        Sourced(v, d->tag + ": median gap between back-to-back kernels on one stream (" +
                       std::to_string(in.launch_gaps_us.size()) + " gaps)");
    d->report["launch_us"] = {{"value", v}, {"samples", in.launch_gaps_us.size()}};
  }
  for (const char* pass : {"forward", "backward"}) {
    std::vector<double> v;
    for (const auto& [ps, us] : in.start_skews_us)
      if (ps == pass) v.push_back(us);
    if (v.size() < 3) continue;
    const double m = std::max(0.0, MedianOf(v));
    d->profile["compute"][std::string(pass) + "_start_skew_us"] =
        Sourced(m, d->tag + ": median spread of the ranks' first ops over " + std::to_string(v.size()) + " " + pass +
                       " runs");
    d->report[std::string(pass) + "_start_skew_us"] = {{"value", m}, {"samples", v.size()}};
  }
}

// NCCL's SMs from attention kernels timed beside traffic: the engine runs a kernel (1 + sd)x slower while its rank
// communicates, sd = kernel time on sms − x SMs / on sms − 1; a kernel overlapped for a fraction f of its measured
// time D then takes D = alone / (1 − f·sd/(1+sd)). Returns whether comm_slowdown was fitted here.
bool FitNcclSms(const FitInputs& in, const FittedTables& tables, Draft* d) {
  std::vector<const FitInputs::BesideKernel*> beside_ks;
  for (const FitInputs::BesideKernel& b : in.beside_kernels)
    if (tables.count({b.kernel.pass, b.kernel.mask, b.kernel.head_dim})) beside_ks.push_back(&b);
  if (beside_ks.size() < 3) return false;
  double best_score = INFINITY;
  int best_x = 0;
  std::vector<double> best_ratio;
  for (int x = 0; x <= in.sms / 4; ++x) {
    double score = 0;
    std::vector<double> ratio;
    for (const FitInputs::BesideKernel* b : beside_ks) {
      const WaveModel& w = tables.at({b->kernel.pass, b->kernel.mask, b->kernel.head_dim});
      WaveModel fewer = w;
      fewer.sms = std::max(1, w.sms - x);
      const double alone = Predict(w, b->kernel), shared = Predict(fewer, b->kernel);
      const double sd = alone > 0 ? shared / alone - 1 : 0;
      const double pred = alone / (1 - b->overlap * sd / (1 + sd));
      score += std::abs(std::log(pred / b->kernel.us)) / beside_ks.size();
      ratio.push_back(b->kernel.us / pred);
    }
    if (score < best_score - 1e-12) best_score = score, best_x = x, best_ratio = ratio;
  }
  const double rest = std::max(0.0, MedianOf(best_ratio) - 1);
  d->profile["compute"]["nccl_sms"] =
      Sourced(best_x, d->tag + ": SMs held by NCCL that best explain " + std::to_string(beside_ks.size()) +
                          " attention kernels timed beside traffic (reduced-SM wave model)");
  d->profile["compute"]["comm_slowdown"] = Sourced(rest, d->tag + ": what is left of their slowdown (median)");
  d->report["nccl_sms"] = {{"value", best_x}, {"samples", beside_ks.size()}, {"mean_abs_log_error", best_score}};
  d->report["comm_slowdown"] = {{"value", rest}, {"samples", beside_ks.size()}};
  return true;
}

// SMs NCCL's kernel occupies (the occupancy probe), per pattern and message size: the median per size.
void FitNcclHeldTable(const FitInputs& in, Draft* d) {
  if (in.nccl_held.empty()) return;
  std::map<std::string, std::map<int64_t, std::vector<double>>> by;
  for (const NcclHeldSample& h : in.nccl_held)
    by[h.kind == "all-gather" ? "all-gather" : h.world == 2 ? "p2p_pair" : "p2p_ring"][h.bytes].push_back(h.sms);
  json table = json::object();
  for (const auto& [pattern, sizes] : by) table[pattern] = MedianPoints(sizes);
  table["source"] = d->tag + ": SMs NCCL's kernel occupied while it ran, median of the occupancy probe per message "
                             "size (" + std::to_string(in.nccl_held.size()) +
                    " probes: a CTA per SM launched 10 us after the transfer)";
  d->profile["compute"]["nccl_held_sms_by_transfer"] = table;
  d->report["nccl_held_sms_by_transfer"] = table;
}

// Without kernels beside traffic: comm_slowdown from same-shape (alone, beside) attention pairs.
void FitSlowdownFromPairs(const FitInputs& in, Draft* d) {
  if (in.overlap_us.size() < 3) return;
  std::vector<double> r;
  for (auto [a, b] : in.overlap_us) r.push_back(b / a);
  const double v = std::max(0.0, MedianOf(r) - 1);
  d->profile["compute"]["comm_slowdown"] = Sourced(v, d->tag + ": median slowdown of attention beside NCCL traffic (" +
                                                          std::to_string(r.size()) + " pairs)");
  d->report["comm_slowdown"] = {{"value", v}, {"samples", r.size()}};
}

// The point-to-point rates the later steps measure against.
struct LinkRates {
  double gbps = 0, latency_us = 0;
  double beside = 0;  // the byte rate beside attention kernels, as a fraction of the line's
};

// Measured time alone / beside `pass` attention kernels, per pattern and size (clamped to 0.01..1).
std::vector<double> BesideRatios(const FitInputs& in, const std::string& pass) {
  std::map<std::pair<int, int64_t>, std::vector<double>> idle, next_to;
  for (const TransferSample& t : in.transfers) {
    if (t.kind != "p2p") continue;
    if (!t.beside_compute) idle[{t.world, t.bytes}].push_back(t.us);
    else if (t.beside_pass == pass) next_to[{t.world, t.bytes}].push_back(t.us);
  }
  std::vector<double> f;
  for (auto& [key, v] : next_to)
    if (idle.count(key)) f.push_back(std::clamp(MedianOf(idle[key]) / MedianOf(v), 0.01, 1.0));
  return f;
}

// The measured times of idle point-to-point transfers per pattern and size, for the sizes the line fits badly.
void FitP2pTimeTable(const FitInputs& in, Draft* d) {
  std::map<int64_t, std::vector<double>> pair, ring;
  for (const TransferSample& t : in.transfers)
    if (t.kind == "p2p" && !t.beside_compute) (t.world == 2 ? pair : ring)[t.bytes].push_back(t.us);
  json table = json::object();
  for (auto [key, m] : {std::pair{"pair", &pair}, std::pair{"ring", &ring}})
    if (!m->empty()) table[key] = MedianPoints(*m);
  table["source"] = d->tag + ": median time of point-to-point transfers per size, GPUs otherwise idle (pair: a send "
                             "and a receive with one peer; ring: to the next, from the previous)";
  d->profile["network"]["p2p_time_us"] = table;
  d->report["p2p_time_us"] = table;
}

// The measured all-to-all among the most GPUs it ran on (one node's): network.alltoall_time_us.nvlink, the median
// time per bytes each member sends in all. Without such samples the profile keeps the base's table (if any), and the
// simulator reports all-to-alls as extrapolated.
void FitAllToAllTable(const FitInputs& in, Draft* d) {
  int most = 0;
  for (const TransferSample& t : in.transfers)
    if (t.kind == "alltoall" && !t.beside_compute) most = std::max(most, t.world);
  std::map<int64_t, std::vector<double>> by_size;
  for (const TransferSample& t : in.transfers)
    if (t.kind == "alltoall" && !t.beside_compute && t.world == most) by_size[t.bytes].push_back(t.us);
  if (by_size.empty()) return;
  const json table = {{"nvlink", MedianPoints(by_size)},
                      {"source", d->tag + ": median time of NCCL all-to-alls (grouped send/recv) among " +
                                     std::to_string(most) + " GPUs, otherwise idle, per bytes each member sends"}};
  d->profile["network"]["alltoall_time_us"] = table;
  d->report["alltoall_time_us"] = table;
}

// Point-to-point: the line from transfers with both GPUs otherwise idle; the rate beside attention kernels (NCCL's
// kernels got their SMs first and share them) as a fraction of it. Without idle transfers the line comes from the
// beside ones and the fraction stays the base's. Returns the rates (the base's where nothing was fitted).
LinkRates FitPointToPoint(const FitInputs& in, const sim::HardwareProfile& base, const FitOptions& opt, Draft* d) {
  LinkRates rates{base.nvlink_gbps, base.nvlink_latency_us, base.comm_rate_beside_compute};
  std::map<int64_t, std::vector<double>> p2p_beside, p2p_alone;
  // A 2-rank all-gather is one exchange of its chunk: a point-to-point sample (it cannot tell a hop from a link).
  for (const TransferSample& t : in.transfers) {
    if ((t.kind != "p2p" && t.world != 2) || t.kind == "alltoall" || (t.beside_compute && t.beside_pass == "backward"))
      continue;
    (t.beside_compute && !opt.one_line ? p2p_beside : p2p_alone)[t.bytes].push_back(t.us);
  }
  const bool have_alone = !p2p_alone.empty();
  const auto& p2p = have_alone ? p2p_alone : p2p_beside;
  if (!FitLine(p2p, &rates.gbps, &rates.latency_us)) return rates;
  const double gbps = rates.gbps, lat = rates.latency_us;
  size_t n = 0;
  for (const auto& [b, v] : p2p) n += v.size();
  const std::string what = std::string(have_alone ? "GPUs otherwise idle" : "beside attention kernels") + ", " +
                           std::to_string(p2p.size()) + " sizes, " + std::to_string(n) + " transfers";
  d->profile["network"]["nvlink_gbps"] = Sourced(gbps, d->tag + ": point-to-point bytes / time slope, " + what);
  d->profile["network"]["nvlink_latency_us"] = Sourced(lat, d->tag + ": point-to-point intercept, " + what);
  d->report["nvlink"] = {{"gbps", gbps}, {"latency_us", lat}, {"from_idle_transfers", have_alone}, {"transfers", n}};
  // The byte rate beside kernels against the line (what the start waits are measured against).
  if (have_alone && !p2p_beside.empty()) {
    std::vector<double> f;
    for (const auto& [b, v] : p2p_beside)
      for (double us : v) f.push_back(std::clamp(double(b) / (gbps * 1e3) / std::max(us - lat, 1e-3), 0.01, 1.0));
    rates.beside = MedianOf(f);
  }
  // Beside attention: measured time alone / beside, per pattern and size (the simulator stretches a transfer's whole
  // table time by it); beside forward and beside backward kernels separately.
  for (const char* pass : {"forward", "backward"}) {
    const std::vector<double> f = BesideRatios(in, pass);
    if (f.empty() || opt.one_line) continue;
    const std::string key =
        std::string(pass) == "forward" ? "comm_rate_beside_compute" : "backward_comm_rate_beside_compute";
    const double m = MedianOf(f);
    d->profile["network"][key] = Sourced(m, d->tag + ": median (time alone / time beside " + pass +
                                                " attention kernels) of " + std::to_string(f.size()) +
                                                " point-to-point patterns and sizes");
    d->report[key] = {{"value", m}, {"samples", f.size()}};
  }
  if (have_alone) FitP2pTimeTable(in, d);
  return rates;
}

// Transfers posted beside a running attention kernel: the fraction of its remaining time they wait. Only samples that
// can tell a wait from a slow transfer: the kernel had at least twice the transfer's own time left (a transfer that
// waited then ends after the kernel; one that did not ends long before).
void FitStartWait(const FitInputs& in, const LinkRates& r, Draft* d) {
  std::vector<double> f;
  for (const StartWaitSample& s : in.start_waits) {
    const double moving_us = double(s.bytes) / (r.beside * r.gbps * 1e3);
    if ((s.kernel_ctas == 0 || s.kernel_ctas >= in.sms) && s.kernel_left_us >= 2 * (r.latency_us + moving_us))
      f.push_back(std::clamp((s.us - r.latency_us - moving_us) / s.kernel_left_us, 0.0, 1.0));
  }
  if (f.size() < 3) return;
  const double v = MedianOf(f);
  d->profile["compute"]["comm_start_wait"] =
      Sourced(v, d->tag + ": transfers posted beside a running attention kernel start after this fraction of its "
                          "remaining time (median of " + std::to_string(f.size()) + ")");
  d->report["comm_start_wait"] = {{"value", v}, {"samples", f.size()}};
}

// All-gathers: the per-step time left once the step's chunk has moved at the fitted rate is the hop latency.
void FitCollectiveHop(const FitInputs& in, const LinkRates& r, const FitOptions& opt, Draft* d) {
  std::vector<double> hop;
  for (const TransferSample& t : in.transfers)
    if (t.kind == "all-gather" && t.world >= 3) {
      const double steps = t.world - 1;
      const double chunk = double(t.bytes) / steps;
      hop.push_back(t.us / steps - chunk / ((t.beside_compute && !opt.one_line ? r.beside : 1.0) * r.gbps * 1e3));
    }
  if (hop.empty()) return;
  const double v = std::max(0.0, MedianOf(hop));
  d->profile["network"]["collective_hop_latency_us"] =
      Sourced(v, d->tag + ": median time per ring step of " + std::to_string(hop.size()) +
                     " all-gathers beyond moving its chunk at the point-to-point rate");
  d->report["collective_hop_latency_us"] = {{"value", v}, {"samples", hop.size()}};
}

// Memory-bound kernels: median bytes / time of the dK/dV add (merge) and the prepare/copy kernels.
void FitMemoryRates(const FitInputs& in, Draft* d) {
  for (const char* kind : {"merge", "copy"}) {
    std::vector<double> rates;
    for (const MemorySample& m : in.memory)
      if (m.kind == kind) rates.push_back(double(m.bytes) / m.us / 1e3);
    if (rates.size() < 3) continue;
    const double v = MedianOf(rates);
    d->profile["memory"][std::string(kind) + "_gbps"] =
        Sourced(v, d->tag + ": median bytes / time of " + std::to_string(rates.size()) + " " + kind + " kernels");
    d->report[std::string(kind) + "_gbps"] = {{"value", v}, {"samples", rates.size()}};
  }
}

}  // namespace

Status FitProfile(const FitInputs& in, const json& base, const FitOptions& opt, json* profile, json* report) {
  sim::HardwareProfile check;
  RINGLAB_RETURN_IF_ERROR(sim::ParseProfile(base, "base", &check));
  Draft d{base, json::object(), opt.tag};
  const FittedTables tables = FitAttentionTables(in, d.tag, &d.profile, &d.report);
  FitHostNumbers(in, &d);
  const bool slowdown_from_beside = FitNcclSms(in, tables, &d);
  FitNcclHeldTable(in, &d);
  if (!slowdown_from_beside) FitSlowdownFromPairs(in, &d);
  const LinkRates rates = FitPointToPoint(in, check, opt, &d);
  FitAllToAllTable(in, &d);
  FitStartWait(in, rates, &d);
  FitCollectiveHop(in, rates, opt, &d);
  FitMemoryRates(in, &d);
  if (!opt.name.empty()) d.profile["name"] = opt.name;
  json prov = in.provenance;
  prov["fitted"] = d.report;
  d.profile["provenance"] = prov;
  sim::HardwareProfile parsed;
  RINGLAB_RETURN_IF_ERROR(sim::ParseProfile(d.profile, "fitted profile", &parsed));
  *profile = std::move(d.profile);
  *report = std::move(d.report);
  return Status::Ok();
}

}  // namespace ringlab::calibrate
