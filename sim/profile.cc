#include "sim/profile.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>

namespace ringlab::sim {
namespace {

using nlohmann::json;

class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}
  Status Error(const std::string& field, const std::string& what) const {
    return Status::InvalidArgument("profile " + origin_ + ": " + field + " " + what);
  }
  // A sourced number: {"value": x, "source": "..."}; must lie in [lo, hi].
  Status Number(const json& parent, const std::string& path, const char* key, double lo, double hi, double* out,
                bool required = true) const {
    const std::string field = path + "." + key;
    if (!parent.contains(key)) return required ? Error(field, "is missing") : Status::Ok();
    const json& v = parent.at(key);
    if (!v.is_object()) return Error(field, "must be an object {\"value\": number, \"source\": string}");
    if (!v.contains("value") || !v.at("value").is_number()) return Error(field + ".value", "must be a number");
    if (!v.contains("source") || !v.at("source").is_string() || v.at("source").get<std::string>().empty())
      return Error(field + ".source", "must be a non-empty string saying where the number comes from");
    const double x = v.at("value").get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
      return Error(field + ".value", "must be in [" + Fmt(lo) + ", " + Fmt(hi) + "], got " + Fmt(x));
    *out = x;
    return Status::Ok();
  }
  Status Object(const json& parent, const std::string& key, const json** out) const {
    if (!parent.contains(key) || !parent.at(key).is_object()) return Error(key, "must be an object");
    *out = &parent.at(key);
    return Status::Ok();
  }
  static std::string Fmt(double x) {
    char b[32];
    snprintf(b, sizeof b, "%g", x);
    return b;
  }

 private:
  std::string origin_;
};

}  // namespace

double AttentionTable::TflopsAt(double tokens) const {
  if (points.empty()) return 0;
  if (tokens <= points.front().first) return points.front().second;
  if (tokens >= points.back().first) return points.back().second;
  for (size_t i = 1; i < points.size(); ++i) {
    if (tokens <= points[i].first) {
      const auto [x0, y0] = points[i - 1];
      const auto [x1, y1] = points[i];
      const double f = (std::log2(tokens) - std::log2(x0)) / (std::log2(x1) - std::log2(x0));
      return y0 + f * (y1 - y0);
    }
  }
  return points.back().second;
}

double WaveModel::RoundUs(double n) const {
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

double WaveModel::KernelUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group) const {
  if (q <= 0 || kv <= 0 || pairs <= 0) return 0;
  return EffectiveRounds(Ctas(q, kv, h, batch, group)) * RoundUs(TilesPerCta(q, kv, pairs, group));
}

double WaveModel::FirstIdleUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group) const {
  if (q <= 0 || kv <= 0 || pairs <= 0) return 0;
  const double ctas = Ctas(q, kv, h, batch, group);
  const double slots = double(sms) * ctas_per_sm;
  if (ctas < slots) return 0;
  const double full = std::floor(ctas / slots);
  const double round = RoundUs(TilesPerCta(q, kv, pairs, group));
  return ctas - full * slots > 0 ? full * round : EffectiveRounds(ctas) * round;
}

double WaveModel::DisplacedTailUs(int64_t q, int64_t kv, double pairs, double h, int batch, double group,
                                  int nccl_sms) const {
  if (q <= 0 || kv <= 0 || pairs <= 0 || nccl_sms <= 0) return 0;
  const double ctas = Ctas(q, kv, h, batch, group);
  const double slots = double(sms) * ctas_per_sm;
  const double full = std::floor(ctas / slots);
  const double last = ctas - full * slots;
  if (full < 1 || last <= slots - double(nccl_sms) * ctas_per_sm) return 0;
  return RoundUs(TilesPerCta(q, kv, pairs, group));
}

double WaveModel::CausalKernelUs(int64_t q, int64_t kv, int64_t off, double h, int batch, double group,
                                 double* first_idle_us) const {
  if (first_idle_us) *first_idle_us = 0;
  if (q <= 0 || kv <= 0) return 0;
  // Tiles each CTA of one head loops over, in launch order.
  std::vector<double> work;
  double total = 0;
  if (!grid_kv) {  // forward: a CTA per q tile, heaviest (last rows) first; it sees keys up to its last row + off
    const int64_t tq = (q + tile_q - 1) / tile_q, tkv = (kv + tile_kv - 1) / tile_kv;
    for (int64_t i = tq - 1; i >= 0; --i) {
      const int64_t last_key = std::min(kv - 1, std::min(q - 1, (i + 1) * tile_q - 1) + off);
      work.push_back(last_key < 0 ? 0.0 : double(std::min(tkv, last_key / tile_kv + 1)));
    }
  } else {  // backward: a CTA per kv tile, heaviest (first keys) first; it sees query rows from its first key − off
    const int64_t tq = (q + tile_q - 1) / tile_q, tkv = (kv + tile_kv - 1) / tile_kv;
    for (int64_t j = 0; j < tkv; ++j) {
      const int64_t first_row = std::max<int64_t>(0, j * tile_kv - off);
      work.push_back(first_row >= q ? 0.0 : double(tq - first_row / tile_q) * group);
    }
  }
  for (double w : work) total += w;
  const double ctas = Ctas(q, kv, h, batch, group);
  const double slots = double(sms) * ctas_per_sm;
  const double per_head = double(work.size());
  if (total <= 0) return 0;
  if (ctas > 16 * slots) {
    const double round = RoundUs(total / per_head), full = std::floor(ctas / slots);
    if (first_idle_us) *first_idle_us = (ctas - full * slots > 0 ? full : EffectiveRounds(ctas)) * round;
    return EffectiveRounds(ctas) * round;
  }
  const int64_t heads = std::llround(ctas / per_head);
  std::vector<double> cost(work.size());
  for (size_t i = 0; i < work.size(); ++i) cost[i] = work[i] > 0 ? RoundUs(work[i]) : 0;
  // Slots' free times as a min-heap; each CTA takes the earliest free slot.
  std::vector<double> free_at(std::min<int64_t>(int64_t(slots), heads * int64_t(work.size())), 0.0);
  double end = 0;
  for (int64_t hd = 0; hd < heads; ++hd)
    for (double c : cost) {
      std::pop_heap(free_at.begin(), free_at.end(), std::greater<>());
      free_at.back() += c;
      end = std::max(end, free_at.back());
      std::push_heap(free_at.begin(), free_at.end(), std::greater<>());
    }
  // Every CTA is handed out; the earliest free slot is the first to go idle (0 when some slot never got a CTA).
  if (first_idle_us) *first_idle_us = int64_t(free_at.size()) < int64_t(slots) ? 0.0 : free_at.front();
  return end;
}

double KernelFirstFraction(const HardwareProfile& hw, bool forward, int world) {
  const auto& t = forward ? hw.forward_kernel_first : hw.backward_kernel_first;
  if (t.empty()) return 0;
  double f = t.front().second;
  for (const auto& [w, x] : t)
    if (w <= world) f = x;
  return f;
}

const AttentionTable* HardwareProfile::FindTable(const std::string& pass, const std::string& mask,
                                                 int head_dim) const {
  for (const AttentionTable& t : attention)
    if (t.pass == pass && t.mask == mask && t.head_dim == head_dim) return &t;
  return nullptr;
}

double HardwareProfile::P2pTimeUs(bool ring, int64_t bytes) const {
  const auto& t = ring && !p2p_time_ring_us.empty() ? p2p_time_ring_us : p2p_time_pair_us;
  if (t.empty() || bytes <= 0) return -1;
  const double per_byte_us = 1.0 / (nvlink_gbps * 1e3);  // the line's slope beyond the table
  if (bytes <= t.front().first) return std::max(0.0, t.front().second - double(t.front().first - bytes) * per_byte_us);
  if (bytes >= t.back().first) return t.back().second + double(bytes - t.back().first) * per_byte_us;
  size_t i = 1;
  while (t[i].first < bytes) ++i;
  const double x0 = std::log(double(t[i - 1].first)), x1 = std::log(double(t[i].first));
  const double y0 = std::log(t[i - 1].second), y1 = std::log(t[i].second);
  return std::exp(y0 + (y1 - y0) * (std::log(double(bytes)) - x0) / (x1 - x0));
}

double HardwareProfile::HeldSmsFor(bool collective, bool ring, int64_t bytes) const {
  const auto& t = collective ? held_sms_collective : ring ? held_sms_ring : held_sms_pair;
  if (t.empty()) return nccl_sms;
  double v = t.front().second;
  for (const auto& [b, sms] : t)
    if (b <= bytes) v = sms;
  return v;
}

Status ParseProfile(const json& j, const std::string& origin, HardwareProfile* out) {
  Reader rd(origin);
  HardwareProfile p;
  if (!j.is_object()) return rd.Error("(top level)", "must be a JSON object");
  if (!j.contains("name") || !j.at("name").is_string()) return rd.Error("name", "must be a string");
  p.name = j.at("name").get<std::string>();
  if (j.contains("gpu")) {
    if (!j.at("gpu").is_string()) return rd.Error("gpu", "must be a string");
    p.gpu = j.at("gpu").get<std::string>();
  }
  const json *c, *m, *n;
  RINGLAB_RETURN_IF_ERROR(rd.Object(j, "compute", &c));
  RINGLAB_RETURN_IF_ERROR(rd.Object(j, "memory", &m));
  RINGLAB_RETURN_IF_ERROR(rd.Object(j, "network", &n));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "peak_tflops", 1e-3, 1e6, &p.peak_tflops));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "max_efficiency", 1e-3, 1, &p.max_efficiency));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "launch_us", 0, 1e6, &p.launch_us));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "comm_slowdown", 0, 100, &p.comm_slowdown));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "comm_start_wait", 0, 1, &p.comm_start_wait, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "nccl_sms", 0, 1024, &p.nccl_sms, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "displaced_tail_fraction", 0, 1, &p.displaced_tail_fraction,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "forward_displaced_tail_fraction", 0, 1,
                                    &p.forward_displaced_tail_fraction, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "backward_displaced_tail_fraction", 0, 1,
                                    &p.backward_displaced_tail_fraction, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "forward_start_skew_us", 0, 1e6, &p.forward_start_skew_us,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "backward_start_skew_us", 0, 1e6, &p.backward_start_skew_us,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*c, "compute", "nccl_post_us", 0, 1e6, &p.nccl_post_us, /*required=*/false));
  if (c->contains("nccl_held_sms_by_transfer")) {
    const json& v = c->at("nccl_held_sms_by_transfer");
    const std::string field = "compute.nccl_held_sms_by_transfer";
    if (!v.is_object() || !v.contains("source") || !v.at("source").is_string())
      return rd.Error(field, "must be an object {\"p2p_pair\": [[bytes, sms], ...], \"p2p_ring\": ..., \"all-gather\": ..., "
                             "\"source\": string}");
    for (auto [key, dst] : {std::pair{"p2p_pair", &p.held_sms_pair}, std::pair{"p2p_ring", &p.held_sms_ring},
                            std::pair{"all-gather", &p.held_sms_collective}}) {
      if (!v.contains(key)) continue;
      for (const json& e : v.at(key)) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number() || e[0].get<int64_t>() <= 0 ||
            !(e[1].get<double>() >= 0) || (!dst->empty() && e[0].get<int64_t>() <= dst->back().first))
          return rd.Error(field + "." + key, "entries must be [bytes > 0, sms >= 0] with ascending bytes");
        dst->emplace_back(e[0].get<int64_t>(), e[1].get<double>());
      }
    }
  }
  if (c->contains("start_order")) {
    const json& v = c->at("start_order");
    if (!v.is_object() || !v.contains("value") || !v.at("value").is_string() ||
        (v.at("value") != "listed" && v.at("value") != "streams"))
      return rd.Error("compute.start_order", "must be {\"value\": \"listed\" or \"streams\", \"source\": string}");
    if (!v.contains("source") || !v.at("source").is_string() || v.at("source").get<std::string>().empty())
      return rd.Error("compute.start_order.source", "must be a non-empty string saying where the choice comes from");
    p.listed_start_order = v.at("value") == "listed";
  }
  for (auto [key, dst] : {std::pair{"forward_kernel_first_fraction", &p.forward_kernel_first},
                           std::pair{"backward_kernel_first_fraction", &p.backward_kernel_first}}) {
    if (!c->contains(key)) continue;
    const std::string field = std::string("compute.") + key;
    const json& v = c->at(key);
    if (!v.is_object() || !v.contains("by_world") || !v.at("by_world").is_array())
      return rd.Error(field, "must be an object {\"by_world\": [[world, fraction], ...], \"source\": string}");
    if (!v.contains("source") || !v.at("source").is_string() || v.at("source").get<std::string>().empty())
      return rd.Error(field + ".source", "must be a non-empty string saying where the numbers come from");
    dst->clear();
    for (const json& e : v.at("by_world")) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number())
        return rd.Error(field + ".by_world", "entries must be [world, fraction]");
      const int w = e[0].get<int>();
      const double f = e[1].get<double>();
      if ((w < 1 || !(f >= 0 && f <= 1) || (!dst->empty() && w <= dst->back().first)))
        return rd.Error(field + ".by_world", "needs ascending worlds >= 1 and fractions in [0, 1]");
      dst->emplace_back(w, f);
    }
  }
  if (c->contains("attention")) {
    const json& a = c->at("attention");
    if (!a.is_array()) return rd.Error("compute.attention", "must be an array of tables");
    for (size_t i = 0; i < a.size(); ++i) {
      const std::string f = "compute.attention[" + std::to_string(i) + "]";
      const json& t = a[i];
      if (!t.is_object()) return rd.Error(f, "must be an object");
      AttentionTable tab;
      if (!t.contains("pass") || !t["pass"].is_string() ||
          (t["pass"] != "forward" && t["pass"] != "backward"))
        return rd.Error(f + ".pass", "must be \"forward\" or \"backward\"");
      if (!t.contains("mask") || !t["mask"].is_string() || (t["mask"] != "causal" && t["mask"] != "full"))
        return rd.Error(f + ".mask", "must be \"causal\" or \"full\"");
      if (!t.contains("head_dim") || !t["head_dim"].is_number_integer() || t["head_dim"].get<int>() <= 0)
        return rd.Error(f + ".head_dim", "must be a positive integer");
      if (!t.contains("source") || !t["source"].is_string() || t["source"].get<std::string>().empty())
        return rd.Error(f + ".source", "must be a non-empty string saying where the numbers come from");
      if (t.contains("wave")) {
        const json& w = t["wave"];
        const std::string wf = f + ".wave";
        if (!w.is_object()) return rd.Error(wf, "must be an object");
        if (!w.contains("grid") || !w["grid"].is_string() || (w["grid"] != "q" && w["grid"] != "kv"))
          return rd.Error(wf + ".grid", "must be \"q\" or \"kv\"");
        WaveModel& wm = tab.wave;
        wm.enabled = true;
        wm.grid_kv = w["grid"] == "kv";
        struct Field { const char* key; double lo, hi; bool integer; double* d; int* i; };
        const Field fields[] = {{"tile_q", 1, 1 << 16, true, nullptr, &wm.tile_q},
                                {"tile_kv", 1, 1 << 16, true, nullptr, &wm.tile_kv},
                                {"sms", 1, 1 << 16, true, nullptr, &wm.sms},
                                {"ctas_per_sm", 1, 64, true, nullptr, &wm.ctas_per_sm},
                                {"tile_us", 1e-9, 1e6, false, &wm.tile_us, nullptr},
                                {"cta_overhead_tiles", 0, 1e6, false, &wm.cta_overhead_tiles, nullptr},
                                {"single_resident_throughput", 1e-3, 1, false, &wm.single_resident_throughput, nullptr}};
        const bool has_table = w.contains("round_us");
        if (has_table) {
          const json& rt = w["round_us"];
          if (!rt.is_array() || rt.empty()) return rd.Error(wf + ".round_us", "must be a non-empty array of [tiles per CTA, us]");
          for (size_t k = 0; k < rt.size(); ++k) {
            const json& pt = rt[k];
            const std::string pf = wf + ".round_us[" + std::to_string(k) + "]";
            if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number() ||
                !(pt[0].get<double>() > 0) || !(pt[1].get<double>() > 0) || !std::isfinite(pt[0].get<double>()) ||
                !std::isfinite(pt[1].get<double>()))
              return rd.Error(pf, "must be [tiles per CTA > 0, us > 0]");
            if (!wm.round_us.empty() && pt[0].get<double>() <= wm.round_us.back().first)
              return rd.Error(pf, "tiles per CTA must increase along the table");
            wm.round_us.emplace_back(pt[0].get<double>(), pt[1].get<double>());
          }
        }
        for (const Field& fd : fields) {
          const std::string ff = wf + "." + fd.key;
          const bool optional = has_table && (fd.d == &wm.tile_us || fd.d == &wm.cta_overhead_tiles);
          if (optional && !w.contains(fd.key)) continue;
          if (!w.contains(fd.key) || !w[fd.key].is_number()) return rd.Error(ff, "must be a number");
          const double x = w[fd.key].get<double>();
          if (!std::isfinite(x) || x < fd.lo || x > fd.hi || (fd.integer && x != std::floor(x)))
            return rd.Error(ff, std::string("must be ") + (fd.integer ? "an integer " : "") + "in [" + Reader::Fmt(fd.lo) +
                                    ", " + Reader::Fmt(fd.hi) + "]");
          if (fd.d) *fd.d = x;
          else *fd.i = int(x);
        }
      }
      if (!tab.wave.enabled && (!t.contains("points") || !t["points"].is_array() || t["points"].empty()))
        return rd.Error(f + ".points", "must be a non-empty array of [block tokens, TFLOP/s]");
      tab.pass = t["pass"];
      tab.mask = t["mask"];
      tab.head_dim = t["head_dim"];
      tab.source = t["source"];
      for (size_t k = 0; t.contains("points") && k < t["points"].size(); ++k) {
        const json& pt = t["points"][k];
        const std::string pf = f + ".points[" + std::to_string(k) + "]";
        if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number() || pt[0].get<double>() <= 0 ||
            pt[1].get<double>() <= 0)
          return rd.Error(pf, "must be [block tokens > 0, TFLOP/s > 0]");
        if (!tab.points.empty() && pt[0].get<double>() <= tab.points.back().first)
          return rd.Error(pf, "block tokens must increase along the table");
        tab.points.emplace_back(pt[0].get<double>(), pt[1].get<double>());
      }
      if (p.FindTable(tab.pass, tab.mask, tab.head_dim))
        return rd.Error(f, "duplicates an earlier table for the same pass, mask and head_dim");
      p.attention.push_back(std::move(tab));
    }
  }
  double merge_kernels = 1, gpn = 8;
  RINGLAB_RETURN_IF_ERROR(rd.Number(*m, "memory", "hbm_gbps", 1e-3, 1e9, &p.hbm_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*m, "memory", "copy_gbps", 1e-3, 1e9, &p.copy_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*m, "memory", "merge_gbps", 1e-3, 1e9, &p.merge_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*m, "memory", "merge_kernels", 1, 1000, &merge_kernels, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*m, "memory", "memory_gib", 1e-3, 1e9, &p.memory_gib));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "gpus_per_node", 1, 1 << 20, &gpn));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "nvlink_gbps", 1e-3, 1e9, &p.nvlink_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "nvlink_latency_us", 0, 1e6, &p.nvlink_latency_us));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "nic_gbps", 1e-3, 1e9, &p.nic_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "nic_latency_us", 0, 1e6, &p.nic_latency_us));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "collective_step_latency_us", 0, 1e6,
                                    &p.collective_step_latency_us, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "comm_rate_beside_compute", 0.01, 1, &p.comm_rate_beside_compute,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "backward_comm_rate_beside_compute", 0.01, 1,
                                    &p.backward_comm_rate_beside_compute, /*required=*/false));
  if (n->contains("p2p_time_us")) {
    const json& v = n->at("p2p_time_us");
    const std::string field = "network.p2p_time_us";
    if (!v.is_object() || !v.contains("source") || !v.at("source").is_string())
      return rd.Error(field, "must be an object {\"pair\": [[bytes, us], ...], \"ring\": ..., \"source\": string}");
    for (auto [key, dst] : {std::pair{"pair", &p.p2p_time_pair_us}, std::pair{"ring", &p.p2p_time_ring_us}}) {
      if (!v.contains(key)) continue;
      for (const json& e : v.at(key)) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number() ||
            e[0].get<int64_t>() <= 0 || !(e[1].get<double>() > 0) ||
            (!dst->empty() && e[0].get<int64_t>() <= dst->back().first))
          return rd.Error(field + "." + key, "entries must be [bytes > 0, us > 0] with ascending bytes");
        dst->emplace_back(e[0].get<int64_t>(), e[1].get<double>());
      }
    }
  }
  RINGLAB_RETURN_IF_ERROR(rd.Number(*n, "network", "collective_hop_latency_us", 0, 1e6, &p.collective_hop_latency_us,
                                    /*required=*/false));
  if (merge_kernels != std::floor(merge_kernels)) return rd.Error("memory.merge_kernels.value", "must be an integer");
  if (gpn != std::floor(gpn)) return rd.Error("network.gpus_per_node.value", "must be an integer");
  p.merge_kernels = int(merge_kernels);
  p.gpus_per_node = int(gpn);
  *out = std::move(p);
  return Status::Ok();
}

std::string ProfileDir() {
  if (const char* env = std::getenv("RINGLAB_PROFILE_DIR")) return env;
#ifdef RINGLAB_SIM_PROFILE_DIR
  return RINGLAB_SIM_PROFILE_DIR;
#else
  return "sim/profiles";
#endif
}

Status LoadProfile(const std::string& name_or_path, HardwareProfile* out) {
  std::string path = name_or_path;
  const bool looks_like_path = path.find('/') != std::string::npos || path.ends_with(".json");
  if (!looks_like_path) path = ProfileDir() + "/" + name_or_path + ".json";
  std::ifstream f(path);
  if (!f)
    return Status::InvalidArgument("cannot open profile '" + path + "'" +
                                   (looks_like_path ? "" : " (a bundled name such as h100_sxm, or a path to a .json)"));
  json j;
  try {
    f >> j;
  } catch (const std::exception& e) {
    return Status::InvalidArgument("profile " + path + ": not valid JSON: " + e.what());
  }
  return ParseProfile(j, path, out);
}

}  // namespace ringlab::sim
