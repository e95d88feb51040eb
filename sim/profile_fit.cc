#include "sim/profile_fit.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "sim/profile.h"

namespace ringlab::sim {
namespace {

using nlohmann::json;

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

json Sourced(double value, const std::string& source) {
  return {{"value", std::round(value * 1e4) / 1e4}, {"source", source}};
}

// [[size, median of its samples], ...] ascending: a measured table for the profile.
json MedianPoints(const std::map<int64_t, std::vector<double>>& by_size) {
  json pts = json::array();
  for (const auto& [size, v] : by_size) pts.push_back({size, Median(v)});
  return pts;
}

WaveModel Geometry(const FitInputs& in, const std::string& pass, double theta, int ctas_per_sm) {
  const KernelGeometry& g = pass == "forward" ? in.forward : in.backward;
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
    const double n = Median(ns);
    if (!w->round_us.empty() && n <= w->round_us.back().first) continue;
    w->round_us.emplace_back(n, Median(rs));
  }
}

double Predict(const WaveModel& w, const KernelSample& s) {
  const double group = double(s.heads) / s.kv_heads;
  return s.mask == "causal" ? w.CausalKernelUs(s.q, s.kv, s.diagonal_offset, s.heads, s.batch, group)
                            : w.KernelUs(s.q, s.kv, s.pairs, s.heads, s.batch, group);
}

// Causal samples on the full-mask table scaled by one factor (see the header).
KernelFit FitCausalOnFull(const WaveModel& full, const std::vector<const KernelSample*>& ks, double* factor) {
  std::vector<double> ratios;
  for (const KernelSample* s : ks) ratios.push_back(s->us / Predict(full, *s));
  *factor = Median(ratios);
  KernelFit f{full, 0, ks.size()};
  for (auto& [n, us] : f.wave.round_us) us *= *factor;
  std::vector<double> errs;
  for (const KernelSample* s : ks) errs.push_back(std::abs(Predict(f.wave, *s) / s->us - 1));
  f.median_abs_error = Median(errs);
  return f;
}

double MeanAbsLogError(const WaveModel& w, const std::vector<const KernelSample*>& ks) {
  double s = 0;
  for (const KernelSample* k : ks) s += std::abs(std::log(Predict(w, *k) / k->us));
  return ks.empty() ? 0 : s / ks.size();
}

// `causal`: the same pass and head dim's causal samples (may be empty); they decide the CTAs per SM, see below.
KernelFit FitKernels(const FitInputs& in, const std::string& pass, const std::vector<const KernelSample*>& ks,
                     const std::vector<const KernelSample*>& causal) {
  KernelFit best;
  double best_score = INFINITY;
  // ctas_per_sm 0 in the geometry: the kernel's occupancy is not known to the caller; try 1..4. With a partial-round
  // throughput of 1, k co-resident CTAs cost exactly what one CTA at a k-times faster round costs (the effective
  // rounds become ceil(CTAs / SMs) / k), so k shows only through θ < 1 and through the list scheduling of causal
  // blocks (k slots per SM, each CTA holding its slot for a round). With causal samples, k is the one that explains
  // full and causal samples together best; without, the smallest k within 10% of the best full-block score.
  const int given = (pass == "forward" ? in.forward : in.backward).ctas_per_sm;
  std::vector<std::pair<double, KernelFit>> best_per_k;
  for (int k = given > 0 ? given : 1; k <= (given > 0 ? given : 4); ++k) {
  best_score = INFINITY;
  for (int step = 0; step <= (k > 1 ? 10 : 0); ++step) {
    const double theta = 1.0 - 0.05 * step;
    WaveModel w = Geometry(in, pass, theta, k);
    TableFor(ks, &w);
    if (w.round_us.empty()) continue;
    // θ is chosen by the mean |log error| (every sample counts: the partial-round ones are the few that see θ); the
    // median |error| is what the report states.
    std::vector<double> errs;
    double score = 0;
    for (const KernelSample* s : ks) {
      const double pred = Predict(w, *s);
      errs.push_back(std::abs(pred / s->us - 1));
      score += std::abs(std::log(pred / s->us)) / ks.size();
    }
    if (score < best_score - 1e-12) {
      best_score = score;
      best = {w, Median(errs), ks.size()};
    }
  }
  if (best_score < INFINITY) {
    double score = best_score;
    if (!causal.empty()) {
      double factor = 0;
      const KernelFit cf = FitCausalOnFull(best.wave, causal, &factor);
      score = (best_score * ks.size() + MeanAbsLogError(cf.wave, causal) * causal.size()) / (ks.size() + causal.size());
    }
    best_per_k.emplace_back(score, best);
  }
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

// Least-squares line through (bytes, median us per size): returns false when it is not a usable rate.
bool FitLine(const std::map<int64_t, std::vector<double>>& by_size, double* gbps, double* latency_us) {
  std::vector<std::pair<double, double>> pts;
  for (const auto& [b, us] : by_size) pts.emplace_back(double(b), Median(us));
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

}  // namespace

json ToJson(const FitInputs& in) {
  json j;
  j["sms"] = in.sms;
  auto geo = [](const KernelGeometry& g) {
    return json{{"grid", g.grid_kv ? "kv" : "q"}, {"tile_q", g.tile_q}, {"tile_kv", g.tile_kv},
                {"ctas_per_sm", g.ctas_per_sm}};
  };
  j["geometry"] = {{"forward", geo(in.forward)}, {"backward", geo(in.backward)}};
  j["kernels"] = json::array();
  for (const KernelSample& k : in.kernels)
    j["kernels"].push_back({{"pass", k.pass}, {"mask", k.mask}, {"head_dim", k.head_dim}, {"batch", k.batch},
                            {"heads", k.heads}, {"kv_heads", k.kv_heads}, {"q", k.q}, {"kv", k.kv},
                            {"diagonal_offset", k.diagonal_offset}, {"pairs", k.pairs}, {"us", k.us}});
  j["transfers"] = json::array();
  for (const TransferSample& t : in.transfers)
    j["transfers"].push_back({{"kind", t.kind}, {"world", t.world}, {"bytes", t.bytes}, {"us", t.us},
                              {"beside_compute", t.beside_compute}, {"beside_pass", t.beside_pass}});
  j["memory"] = json::array();
  for (const MemorySample& m : in.memory) j["memory"].push_back({{"kind", m.kind}, {"bytes", m.bytes}, {"us", m.us}});
  j["start_waits"] = json::array();
  for (const StartWaitSample& s : in.start_waits)
    j["start_waits"].push_back(
        {{"bytes", s.bytes}, {"kernel_left_us", s.kernel_left_us}, {"us", s.us}, {"kernel_ctas", s.kernel_ctas}});
  j["nccl_held"] = json::array();
  for (const NcclHeldSample& h : in.nccl_held)
    j["nccl_held"].push_back({{"kind", h.kind}, {"world", h.world}, {"bytes", h.bytes}, {"sms", h.sms}});
  j["beside_kernels"] = json::array();
  for (const FitInputs::BesideKernel& b : in.beside_kernels) {
    const KernelSample& k = b.kernel;
    j["beside_kernels"].push_back({{"pass", k.pass}, {"mask", k.mask}, {"head_dim", k.head_dim}, {"batch", k.batch},
                                   {"heads", k.heads}, {"kv_heads", k.kv_heads}, {"q", k.q}, {"kv", k.kv},
                                   {"diagonal_offset", k.diagonal_offset}, {"pairs", k.pairs}, {"us", k.us},
                                   {"overlap", b.overlap}});
  }
  j["launch_gaps_us"] = in.launch_gaps_us;
  j["start_skews_us"] = json::array();
  for (const auto& [pass, us] : in.start_skews_us) j["start_skews_us"].push_back({pass, us});
  j["overlap_us"] = json::array();
  for (auto [a, b] : in.overlap_us) j["overlap_us"].push_back({a, b});
  j["provenance"] = in.provenance;
  return j;
}

Status FromJson(const json& j, const std::string& origin, FitInputs* out) {
  FitInputs in;
  auto bad = [&](const std::string& what) { return Status::InvalidArgument("samples " + origin + ": " + what); };
  try {
    if (!j.is_object()) return bad("must be a JSON object");
    in.sms = j.value("sms", 132);
    if (in.sms <= 0) return bad("sms must be > 0");
    if (j.contains("geometry")) {
      for (const char* pass : {"forward", "backward"}) {
        if (!j["geometry"].contains(pass)) continue;
        const json& g = j["geometry"][pass];
        KernelGeometry& kg = std::string(pass) == "forward" ? in.forward : in.backward;
        kg.grid_kv = g.at("grid").get<std::string>() == "kv";
        kg.tile_q = g.at("tile_q");
        kg.tile_kv = g.at("tile_kv");
        kg.ctas_per_sm = g.at("ctas_per_sm");
        if (kg.tile_q <= 0 || kg.tile_kv <= 0 || kg.ctas_per_sm < 0 || kg.ctas_per_sm > 64)
          return bad(std::string("geometry.") + pass + ": tiles must be > 0 and ctas_per_sm in 0..64");
      }
    }
    auto kernel = [&](const json& k, KernelSample* out) -> Status {
      KernelSample s{k.at("pass"), k.at("mask"), k.at("head_dim"), k.value("batch", 1), k.at("heads"),
                     k.at("kv_heads"), k.at("q"), k.at("kv"), k.value("diagonal_offset", int64_t(0)), k.at("pairs"),
                     k.at("us")};
      if ((s.pass != "forward" && s.pass != "backward") || (s.mask != "full" && s.mask != "causal"))
        return bad("kernel sample with pass '" + s.pass + "' mask '" + s.mask + "'");
      if (s.q <= 0 || s.kv <= 0 || s.pairs <= 0 || s.us <= 0 || s.heads <= 0 || s.kv_heads <= 0 ||
          s.heads % s.kv_heads != 0)
        return bad("kernel sample needs q, kv, pairs, us, heads > 0 and heads divisible by kv_heads");
      *out = s;
      return Status::Ok();
    };
    for (const json& k : j.value("kernels", json::array())) {
      KernelSample s;
      RINGLAB_RETURN_IF_ERROR(kernel(k, &s));
      in.kernels.push_back(s);
    }
    for (const json& k : j.value("beside_kernels", json::array())) {
      FitInputs::BesideKernel b;
      RINGLAB_RETURN_IF_ERROR(kernel(k, &b.kernel));
      b.overlap = std::clamp(k.value("overlap", 1.0), 0.0, 1.0);
      in.beside_kernels.push_back(b);
    }
    for (const json& t : j.value("transfers", json::array())) {
      TransferSample s{t.at("kind"), t.value("world", 2), t.at("bytes"), t.at("us"), t.value("beside_compute", false),
                       t.value("beside_pass", std::string("forward"))};
      if (s.beside_pass != "forward" && s.beside_pass != "backward")
        return bad("transfer sample beside_pass must be forward or backward");
      if ((s.kind != "p2p" && s.kind != "all-gather") || s.bytes <= 0 || s.us <= 0 || s.world < 2)
        return bad("transfer sample needs kind p2p|all-gather, bytes > 0, us > 0, world >= 2");
      in.transfers.push_back(s);
    }
    for (const json& m : j.value("memory", json::array())) {
      MemorySample s{m.at("kind"), m.at("bytes"), m.at("us")};
      if ((s.kind != "merge" && s.kind != "copy") || s.bytes <= 0 || s.us <= 0)
        return bad("memory sample needs kind merge|copy, bytes > 0, us > 0");
      in.memory.push_back(s);
    }
    for (const json& w : j.value("start_waits", json::array())) {
      StartWaitSample s{w.at("bytes"), w.at("kernel_left_us"), w.at("us"), w.value("kernel_ctas", int64_t(0))};
      if (s.bytes <= 0 || s.kernel_left_us <= 0 || s.us <= 0)
        return bad("start_waits sample needs bytes, kernel_left_us, us > 0");
      in.start_waits.push_back(s);
    }
    for (const json& h : j.value("nccl_held", json::array())) {
      NcclHeldSample s{h.at("kind"), h.at("world"), h.at("bytes"), h.at("sms")};
      if ((s.kind != "p2p" && s.kind != "all-gather") || s.world < 2 || s.bytes <= 0 || s.sms < 0)
        return bad("nccl_held sample needs kind p2p|all-gather, world >= 2, bytes > 0, sms >= 0");
      in.nccl_held.push_back(s);
    }
    for (const json& k : j.value("start_skews_us", json::array())) {
      const std::string pass = k.at(0).get<std::string>();
      if (pass != "forward" && pass != "backward") return bad("start_skews_us: pass must be forward or backward");
      in.start_skews_us.emplace_back(pass, k.at(1).get<double>());
    }
    for (const json& g : j.value("launch_gaps_us", json::array())) in.launch_gaps_us.push_back(g.get<double>());
    for (const json& o : j.value("overlap_us", json::array()))
      in.overlap_us.emplace_back(o.at(0).get<double>(), o.at(1).get<double>());
    in.provenance = j.value("provenance", json::object());
  } catch (const json::exception& e) {
    return bad(std::string("malformed: ") + e.what());
  }
  *out = std::move(in);
  return Status::Ok();
}

void Append(const FitInputs& b, FitInputs* a) {
  a->kernels.insert(a->kernels.end(), b.kernels.begin(), b.kernels.end());
  a->transfers.insert(a->transfers.end(), b.transfers.begin(), b.transfers.end());
  a->memory.insert(a->memory.end(), b.memory.begin(), b.memory.end());
  a->start_waits.insert(a->start_waits.end(), b.start_waits.begin(), b.start_waits.end());
  a->nccl_held.insert(a->nccl_held.end(), b.nccl_held.begin(), b.nccl_held.end());
  a->launch_gaps_us.insert(a->launch_gaps_us.end(), b.launch_gaps_us.begin(), b.launch_gaps_us.end());
  a->start_skews_us.insert(a->start_skews_us.end(), b.start_skews_us.begin(), b.start_skews_us.end());
  a->overlap_us.insert(a->overlap_us.end(), b.overlap_us.begin(), b.overlap_us.end());
  a->beside_kernels.insert(a->beside_kernels.end(), b.beside_kernels.begin(), b.beside_kernels.end());
  if (!b.kernels.empty()) {  // the kernel geometry travels with the kernel samples
    a->sms = b.sms;
    a->forward = b.forward;
    a->backward = b.backward;
  }
  for (auto it = b.provenance.begin(); it != b.provenance.end(); ++it) a->provenance[it.key()] = it.value();
}

Status FitProfile(const FitInputs& in, const json& base, const FitOptions& opt, json* profile, json* report) {
  HardwareProfile check;
  RINGLAB_RETURN_IF_ERROR(ParseProfile(base, "base", &check));
  json p = base;
  json rep = json::object();
  const std::string& tag = opt.tag;

  // Attention: one round table per (pass, mask, head dim).
  std::map<std::tuple<std::string, std::string, int>, std::vector<const KernelSample*>> groups;
  for (const KernelSample& k : in.kernels) groups[{k.pass, k.mask, k.head_dim}].push_back(&k);
  json& tables = p["compute"]["attention"];
  if (!tables.is_array()) tables = json::array();
  std::map<std::pair<std::string, int>, WaveModel> full_fits;
  std::map<std::tuple<std::string, std::string, int>, WaveModel> fitted_tables;
  // "full" sorts after "causal": fit the full tables first so the causal ones can lean on them.
  std::vector<std::pair<std::tuple<std::string, std::string, int>, std::vector<const KernelSample*>>> ordered(
      groups.begin(), groups.end());
  std::stable_partition(ordered.begin(), ordered.end(), [](const auto& g) { return std::get<1>(g.first) == "full"; });
  for (const auto& [key, ks] : ordered) {
    const auto& [pass, mask, d] = key;
    KernelFit f;
    double factor = 0;
    auto full = full_fits.find({pass, d});
    if (mask == "causal" && full != full_fits.end()) f = FitCausalOnFull(full->second, ks, &factor);
    else {
      static const std::vector<const KernelSample*> kNone;
      auto c = groups.find({pass, "causal", d});
      f = FitKernels(in, pass, ks, mask == "full" && c != groups.end() ? c->second : kNone);
    }
    if (f.wave.round_us.empty()) continue;
    if (mask == "full") full_fits[{pass, d}] = f.wave;
    fitted_tables[{pass, mask, d}] = f.wave;
    json rt = json::array();
    for (auto [n, us] : f.wave.round_us) rt.push_back({std::round(n * 1e3) / 1e3, std::round(us * 1e3) / 1e3});
    char err[32];
    snprintf(err, sizeof err, "%.1f%%", 100 * f.median_abs_error);
    char how[96] = "";
    if (factor > 0) snprintf(how, sizeof how, "the full-mask table x %.3f (median measured / predicted), ", factor);
    json t = {{"pass", pass}, {"mask", mask}, {"head_dim", d},
              {"source", tag + ": kernel wave model with a measured round table, " + how + std::to_string(ks.size()) +
                             " kernel samples (median |error| on them " + err + ")"},
              {"wave", {{"grid", f.wave.grid_kv ? "kv" : "q"}, {"tile_q", f.wave.tile_q}, {"tile_kv", f.wave.tile_kv},
                        {"sms", f.wave.sms}, {"ctas_per_sm", f.wave.ctas_per_sm},
                        {"single_resident_throughput", f.wave.single_resident_throughput}, {"round_us", rt}}}};
    bool replaced = false;
    for (json& old : tables)
      if (old.value("pass", "") == pass && old.value("mask", "") == mask && old.value("head_dim", 0) == d) {
        old = t;
        replaced = true;
      }
    if (!replaced) tables.push_back(t);
    rep["attention " + pass + " " + mask + " " + std::to_string(d)] = {
        {"samples", ks.size()}, {"median_abs_error", f.median_abs_error},
        {"single_resident_throughput", f.wave.single_resident_throughput}, {"round_points", f.wave.round_us.size()},
        {"ctas_per_sm", f.wave.ctas_per_sm},
        {"causal_factor_on_full", factor}};
  }

  if (in.launch_gaps_us.size() >= 3) {
    const double v = std::max(0.0, Median(in.launch_gaps_us));
    p["compute"]["launch_us"] = Sourced(v, tag + ": median gap between back-to-back kernels on one stream (" +
                                               std::to_string(in.launch_gaps_us.size()) + " gaps)");
    rep["launch_us"] = {{"value", v}, {"samples", in.launch_gaps_us.size()}};
  }
  for (const char* pass : {"forward", "backward"}) {
    std::vector<double> v;
    for (const auto& [ps, us] : in.start_skews_us)
      if (ps == pass) v.push_back(us);
    if (v.size() < 3) continue;
    const double m = std::max(0.0, Median(v));
    p["compute"][std::string(pass) + "_start_skew_us"] =
        Sourced(m, tag + ": median spread of the ranks' first ops over " + std::to_string(v.size()) + " " + pass +
                       " runs");
    rep[std::string(pass) + "_start_skew_us"] = {{"value", m}, {"samples", v.size()}};
  }
  // NCCL's SMs: the engine runs a kernel (1 + sd)x slower while its rank communicates, sd = kernel time on sms − x
  // SMs / on sms − 1; a kernel overlapped for a fraction f of its measured time D then takes D = alone / (1 − f·sd/(1+sd)).
  std::map<std::tuple<std::string, std::string, int>, WaveModel> fitted_waves;
  for (const auto& [key, w] : fitted_tables) fitted_waves[key] = w;
  std::vector<const FitInputs::BesideKernel*> beside_ks;
  for (const FitInputs::BesideKernel& b : in.beside_kernels)
    if (fitted_waves.count({b.kernel.pass, b.kernel.mask, b.kernel.head_dim})) beside_ks.push_back(&b);
  bool slowdown_from_beside = false;
  if (beside_ks.size() >= 3) {
    double best_score = INFINITY;
    int best_x = 0;
    std::vector<double> best_ratio;
    for (int x = 0; x <= in.sms / 4; ++x) {
      double score = 0;
      std::vector<double> ratio;
      for (const FitInputs::BesideKernel* b : beside_ks) {
        const WaveModel& w = fitted_waves[{b->kernel.pass, b->kernel.mask, b->kernel.head_dim}];
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
    const double rest = std::max(0.0, Median(best_ratio) - 1);
    p["compute"]["nccl_sms"] = Sourced(best_x, tag + ": SMs held by NCCL that best explain " +
                                                   std::to_string(beside_ks.size()) +
                                                   " attention kernels timed beside traffic (reduced-SM wave model)");
    p["compute"]["comm_slowdown"] = Sourced(rest, tag + ": what is left of their slowdown (median)");
    rep["nccl_sms"] = {{"value", best_x}, {"samples", beside_ks.size()}, {"mean_abs_log_error", best_score}};
    rep["comm_slowdown"] = {{"value", rest}, {"samples", beside_ks.size()}};
    slowdown_from_beside = true;
  }
  // SMs NCCL's kernel occupies (the occupancy probe), per pattern and message size: the median per size.
  if (!in.nccl_held.empty()) {
    std::map<std::string, std::map<int64_t, std::vector<double>>> by;
    for (const NcclHeldSample& h : in.nccl_held)
      by[h.kind == "all-gather" ? "all-gather" : h.world == 2 ? "p2p_pair" : "p2p_ring"][h.bytes].push_back(h.sms);
    json table = json::object();
    for (const auto& [pattern, sizes] : by) table[pattern] = MedianPoints(sizes);
    table["source"] = tag + ": SMs NCCL's kernel occupied while it ran, median of the occupancy probe per message size (" +
                      std::to_string(in.nccl_held.size()) + " probes: a CTA per SM launched 10 us after the transfer)";
    p["compute"]["nccl_held_sms_by_transfer"] = table;
    rep["nccl_held_sms_by_transfer"] = table;
  }
  if (!slowdown_from_beside && in.overlap_us.size() >= 3) {
    std::vector<double> r;
    for (auto [a, b] : in.overlap_us) r.push_back(b / a);
    const double v = std::max(0.0, Median(r) - 1);
    p["compute"]["comm_slowdown"] = Sourced(v, tag + ": median slowdown of attention beside NCCL traffic (" +
                                                   std::to_string(r.size()) + " pairs)");
    rep["comm_slowdown"] = {{"value", v}, {"samples", r.size()}};
  }

  // Point-to-point: the line from transfers with both GPUs otherwise idle; the rate beside attention kernels (NCCL's
  // kernels got their SMs first and share them) as a fraction of it. Without idle transfers the line comes from
  // the beside ones and the fraction stays the base's.
  std::map<int64_t, std::vector<double>> p2p_beside, p2p_alone;
  // A 2-rank all-gather is one exchange of its chunk: a point-to-point sample (it cannot tell a hop from a link).
  for (const TransferSample& t : in.transfers) {
    if ((t.kind != "p2p" && t.world != 2) || (t.beside_compute && t.beside_pass == "backward")) continue;
    (t.beside_compute && !opt.one_line ? p2p_beside : p2p_alone)[t.bytes].push_back(t.us);
  }
  const bool have_alone = !p2p_alone.empty();
  const auto& p2p = have_alone ? p2p_alone : p2p_beside;
  double gbps = check.nvlink_gbps, lat = check.nvlink_latency_us, beside = check.comm_rate_beside_compute;
  if (FitLine(p2p, &gbps, &lat)) {
    size_t n = 0;
    for (const auto& [b, v] : p2p) n += v.size();
    const std::string what = std::string(have_alone ? "GPUs otherwise idle" : "beside attention kernels") + ", " +
                             std::to_string(p2p.size()) + " sizes, " + std::to_string(n) + " transfers";
    p["network"]["nvlink_gbps"] = Sourced(gbps, tag + ": point-to-point bytes / time slope, " + what);
    p["network"]["nvlink_latency_us"] = Sourced(lat, tag + ": point-to-point intercept, " + what);
    rep["nvlink"] = {{"gbps", gbps}, {"latency_us", lat}, {"from_idle_transfers", have_alone}, {"transfers", n}};
    // Beside attention: measured time alone / beside, per pattern and size (the simulator stretches a transfer's
    // whole table time by it); beside forward and beside backward kernels separately.
    auto ratio = [&](const std::string& pass) {
      std::map<std::pair<int, int64_t>, std::vector<double>> idle, next_to;
      for (const TransferSample& t : in.transfers) {
        if (t.kind != "p2p") continue;
        if (!t.beside_compute) idle[{t.world, t.bytes}].push_back(t.us);
        else if (t.beside_pass == pass) next_to[{t.world, t.bytes}].push_back(t.us);
      }
      std::vector<double> f;
      for (auto& [key, v] : next_to)
        if (idle.count(key)) f.push_back(std::clamp(Median(idle[key]) / Median(v), 0.01, 1.0));
      return f;
    };
    // The byte rate beside kernels against the line (what the start waits below are measured against).
    if (have_alone && !p2p_beside.empty()) {
      std::vector<double> f;
      for (const auto& [b, v] : p2p_beside)
        for (double us : v) f.push_back(std::clamp(double(b) / (gbps * 1e3) / std::max(us - lat, 1e-3), 0.01, 1.0));
      beside = Median(f);
    }
    for (const char* pass : {"forward", "backward"}) {
      const std::vector<double> f = ratio(pass);
      if (f.empty() || opt.one_line) continue;
      const std::string key = std::string(pass) == "forward" ? "comm_rate_beside_compute" : "backward_comm_rate_beside_compute";
      const double m = Median(f);
      p["network"][key] = Sourced(m, tag + ": median (time alone / time beside " + pass + " attention kernels) of " +
                                         std::to_string(f.size()) + " point-to-point patterns and sizes");
      rep[key] = {{"value", m}, {"samples", f.size()}};
    }
    if (have_alone) {  // the measured times per pattern and size, for the sizes the line fits badly
      std::map<int64_t, std::vector<double>> pair, ring;
      for (const TransferSample& t : in.transfers)
        if (t.kind == "p2p" && !t.beside_compute) (t.world == 2 ? pair : ring)[t.bytes].push_back(t.us);
      json table = json::object();
      for (auto [key, m] : {std::pair{"pair", &pair}, std::pair{"ring", &ring}})
        if (!m->empty()) table[key] = MedianPoints(*m);
      table["source"] = tag + ": median time of point-to-point transfers per size, GPUs otherwise idle (pair: a send "
                              "and a receive with one peer; ring: to the next, from the previous)";
      p["network"]["p2p_time_us"] = table;
      rep["p2p_time_us"] = table;
    }
  }
  // Only samples that can tell a wait from a slow transfer: the kernel had at least twice the transfer's own time
  // left (a transfer that waited then ends after the kernel; one that did not ends long before).
  std::vector<const StartWaitSample*> waits;
  for (const StartWaitSample& s : in.start_waits)
    if ((s.kernel_ctas == 0 || s.kernel_ctas >= in.sms) &&
        s.kernel_left_us >= 2 * (lat + double(s.bytes) / (beside * gbps * 1e3)))
      waits.push_back(&s);
  if (waits.size() >= 3) {
    std::vector<double> f;
    for (const StartWaitSample* w : waits) {
      const StartWaitSample& s = *w;
      f.push_back(std::clamp((s.us - lat - double(s.bytes) / (beside * gbps * 1e3)) / s.kernel_left_us, 0.0, 1.0));
    }
    const double v = Median(f);
    p["compute"]["comm_start_wait"] =
        Sourced(v, tag + ": transfers posted beside a running attention kernel start after this fraction of its "
                         "remaining time (median of " + std::to_string(f.size()) + ")");
    rep["comm_start_wait"] = {{"value", v}, {"samples", f.size()}};
  }
  // All-gathers: the per-step time left once the step's chunk has moved at the fitted rate is the hop latency.
  std::vector<double> hop;
  for (const TransferSample& t : in.transfers)
    if (t.kind == "all-gather" && t.world >= 3) {
      const double steps = t.world - 1;
      const double chunk = double(t.bytes) / steps;
      hop.push_back(t.us / steps - chunk / ((t.beside_compute && !opt.one_line ? beside : 1.0) * gbps * 1e3));
    }
  if (!hop.empty()) {
    const double v = std::max(0.0, Median(hop));
    p["network"]["collective_hop_latency_us"] =
        Sourced(v, tag + ": median time per ring step of " + std::to_string(hop.size()) +
                       " all-gathers beyond moving its chunk at the point-to-point rate");
    rep["collective_hop_latency_us"] = {{"value", v}, {"samples", hop.size()}};
  }
  for (const char* kind : {"merge", "copy"}) {
    std::vector<double> rates;
    for (const MemorySample& m : in.memory)
      if (m.kind == kind) rates.push_back(double(m.bytes) / m.us / 1e3);
    if (rates.size() < 3) continue;
    const double v = Median(rates);
    p["memory"][std::string(kind) + "_gbps"] =
        Sourced(v, tag + ": median bytes / time of " + std::to_string(rates.size()) + " " + kind + " kernels");
    rep[std::string(kind) + "_gbps"] = {{"value", v}, {"samples", rates.size()}};
  }
  if (!opt.name.empty()) p["name"] = opt.name;
  json prov = in.provenance;
  prov["fitted"] = rep;
  p["provenance"] = prov;
  HardwareProfile parsed;
  RINGLAB_RETURN_IF_ERROR(ParseProfile(p, "fitted profile", &parsed));
  *profile = std::move(p);
  *report = std::move(rep);
  return Status::Ok();
}

}  // namespace ringlab::sim
