// Reading a profile from JSON: ParseProfile's steps (header, compute numbers, measured tables, attention tables and
// their wave models, memory, network) and LoadProfile.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>
#include <utility>

#include "core/input_file.h"
#include "core/json_file.h"
#include "sim/profile.h"

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
    RINGLAB_RETURN_IF_ERROR(Keys(v, field, {"value", "source"}));
    if (!v.contains("value") || !v.at("value").is_number()) return Error(field + ".value", "must be a number");
    if (!v.contains("source") || !v.at("source").is_string() || v.at("source").get<std::string>().empty())
      return Error(field + ".source", "must be a non-empty string saying where the number comes from");
    const double x = v.at("value").get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
      return Error(field + ".value", "must be in [" + Fmt(lo) + ", " + Fmt(hi) + "], got " + Fmt(x));
    *out = x;
    return Status::Ok();
  }
  // Every key of `object` (named `field`) must be one of `known`: a typo is an error, not a silently ignored number.
  Status Keys(const json& object, const std::string& field, std::initializer_list<std::string_view> known) const {
    const std::string unknown = UnknownKeys(object, field, known);
    if (unknown.empty()) return Status::Ok();
    return Status::InvalidArgument("profile " + origin_ + ": " + unknown);
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

// One per-size table of a measured object ({"<key>": [[bytes, value], ...], ..., "source": ...}): entries with
// bytes > 0 ascending and a value >= 0 (or > 0 when `positive`); `what` describes an entry for the error.
Status ParseBytesTable(const Reader& rd, const json& v, const std::string& field, const char* key, bool positive,
                       const char* what, std::vector<std::pair<int64_t, double>>* dst) {
  if (!v.contains(key)) return Status::Ok();
  for (const json& e : v.at(key)) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number() ||
        e[0].get<int64_t>() <= 0 || !(positive ? e[1].get<double>() > 0 : e[1].get<double>() >= 0) ||
        (!dst->empty() && e[0].get<int64_t>() <= dst->back().first))
      return rd.Error(field + "." + key, what);
    dst->emplace_back(e[0].get<int64_t>(), e[1].get<double>());
  }
  return Status::Ok();
}

Status ParseHeader(const Reader& rd, const json& j, HardwareProfile* p) {
  if (!j.is_object()) return rd.Error("(top level)", "must be a JSON object");
  RINGLAB_RETURN_IF_ERROR(rd.Keys(j, "", {"name", "gpu", "compute", "memory", "network", "provenance"}));
  if (!j.contains("name") || !j.at("name").is_string()) return rd.Error("name", "must be a string");
  p->name = j.at("name").get<std::string>();
  if (j.contains("gpu")) {
    if (!j.at("gpu").is_string()) return rd.Error("gpu", "must be a string");
    p->gpu = j.at("gpu").get<std::string>();
  }
  return Status::Ok();
}

// compute.*: the sourced numbers.
Status ParseComputeNumbers(const Reader& rd, const json& c, HardwareProfile* p) {
  RINGLAB_RETURN_IF_ERROR(
      rd.Keys(c, "compute",
              {"peak_tflops", "max_efficiency", "launch_us", "comm_slowdown", "comm_start_wait", "nccl_sms",
               "displaced_tail_fraction", "forward_displaced_tail_fraction", "backward_displaced_tail_fraction",
               "forward_start_skew_us", "backward_start_skew_us", "nccl_post_us", "nccl_held_sms_by_transfer",
               "start_order", "forward_kernel_first_fraction", "backward_kernel_first_fraction", "attention",
               "forward_call_host_us", "backward_call_host_us"}));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "peak_tflops", 1e-3, 1e6, &p->peak_tflops));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "max_efficiency", 1e-3, 1, &p->max_efficiency));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "launch_us", 0, 1e6, &p->launch_us));
  RINGLAB_RETURN_IF_ERROR(
      rd.Number(c, "compute", "forward_call_host_us", 0, 1e6, &p->forward_call_host_us, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(
      rd.Number(c, "compute", "backward_call_host_us", 0, 1e6, &p->backward_call_host_us, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "comm_slowdown", 0, 100, &p->comm_slowdown));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "comm_start_wait", 0, 1, &p->comm_start_wait, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "nccl_sms", 0, 1024, &p->nccl_sms, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "displaced_tail_fraction", 0, 1, &p->displaced_tail_fraction,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "forward_displaced_tail_fraction", 0, 1,
                                    &p->forward_displaced_tail_fraction, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "backward_displaced_tail_fraction", 0, 1,
                                    &p->backward_displaced_tail_fraction, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "forward_start_skew_us", 0, 1e6, &p->forward_start_skew_us,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "backward_start_skew_us", 0, 1e6, &p->backward_start_skew_us,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(c, "compute", "nccl_post_us", 0, 1e6, &p->nccl_post_us, /*required=*/false));
  return Status::Ok();
}

// compute.nccl_held_sms_by_transfer: SMs NCCL's kernel occupies per transfer pattern and size.
Status ParseHeldSms(const Reader& rd, const json& c, HardwareProfile* p) {
  if (!c.contains("nccl_held_sms_by_transfer")) return Status::Ok();
  const json& v = c.at("nccl_held_sms_by_transfer");
  const std::string field = "compute.nccl_held_sms_by_transfer";
  if (!v.is_object() || !v.contains("source") || !v.at("source").is_string())
    return rd.Error(field,
                    "must be an object {\"p2p_pair\": [[bytes, sms], ...], \"p2p_ring\": ..., \"all-gather\": ..., "
                    "\"source\": string}");
  RINGLAB_RETURN_IF_ERROR(rd.Keys(v, field, {"p2p_pair", "p2p_ring", "all-gather", "source"}));
  for (auto [key, dst] : {std::pair{"p2p_pair", &p->held_sms_pair}, std::pair{"p2p_ring", &p->held_sms_ring},
                          std::pair{"all-gather", &p->held_sms_collective}})
    RINGLAB_RETURN_IF_ERROR(ParseBytesTable(rd, v, field, key, /*positive=*/false,
                                            "entries must be [bytes > 0, sms >= 0] with ascending bytes", dst));
  return Status::Ok();
}

// compute.start_order: "listed" or "streams".
Status ParseStartOrder(const Reader& rd, const json& c, HardwareProfile* p) {
  if (!c.contains("start_order")) return Status::Ok();
  const json& v = c.at("start_order");
  if (!v.is_object() || !v.contains("value") || !v.at("value").is_string() ||
      (v.at("value") != "listed" && v.at("value") != "streams"))
    return rd.Error("compute.start_order", "must be {\"value\": \"listed\" or \"streams\", \"source\": string}");
  RINGLAB_RETURN_IF_ERROR(rd.Keys(v, "compute.start_order", {"value", "source"}));
  if (!v.contains("source") || !v.at("source").is_string() || v.at("source").get<std::string>().empty())
    return rd.Error("compute.start_order.source", "must be a non-empty string saying where the choice comes from");
  p->listed_start_order = v.at("value") == "listed";
  return Status::Ok();
}

// compute.{forward,backward}_kernel_first_fraction: per world size.
Status ParseKernelFirst(const Reader& rd, const json& c, HardwareProfile* p) {
  for (auto [key, dst] : {std::pair{"forward_kernel_first_fraction", &p->forward_kernel_first},
                           std::pair{"backward_kernel_first_fraction", &p->backward_kernel_first}}) {
    if (!c.contains(key)) continue;
    const std::string field = std::string("compute.") + key;
    const json& v = c.at(key);
    if (!v.is_object() || !v.contains("by_world") || !v.at("by_world").is_array())
      return rd.Error(field, "must be an object {\"by_world\": [[world, fraction], ...], \"source\": string}");
    RINGLAB_RETURN_IF_ERROR(rd.Keys(v, field, {"by_world", "source"}));
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
  return Status::Ok();
}

// A wave model's measured round table: [tiles per CTA, us] with tiles increasing.
Status ParseRoundTable(const Reader& rd, const json& rt, const std::string& wf, WaveModel* wm) {
  if (!rt.is_array() || rt.empty())
    return rd.Error(wf + ".round_us", "must be a non-empty array of [tiles per CTA, us]");
  for (size_t k = 0; k < rt.size(); ++k) {
    const json& pt = rt[k];
    const std::string pf = wf + ".round_us[" + std::to_string(k) + "]";
    if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number() ||
        !(pt[0].get<double>() > 0) || !(pt[1].get<double>() > 0) || !std::isfinite(pt[0].get<double>()) ||
        !std::isfinite(pt[1].get<double>()))
      return rd.Error(pf, "must be [tiles per CTA > 0, us > 0]");
    if (!wm->round_us.empty() && pt[0].get<double>() <= wm->round_us.back().first)
      return rd.Error(pf, "tiles per CTA must increase along the table");
    wm->round_us.emplace_back(pt[0].get<double>(), pt[1].get<double>());
  }
  return Status::Ok();
}

// The masked kernels' terms of a CTA cost form: {"cta_us", "tile_us", "edge_tile_us"}, each >= 0 (tile_us > 0), and
// optionally "persistent" (a bool) (sim/wave_model.h CtaCost).
Status ParseMaskedTerms(const Reader& rd, const json& m, const std::string& mf, CtaCost* cost) {
  if (!m.is_object()) return rd.Error(mf, "must be an object {\"cta_us\", \"tile_us\", \"edge_tile_us\"}");
  RINGLAB_RETURN_IF_ERROR(rd.Keys(m, mf, {"cta_us", "tile_us", "edge_tile_us", "persistent", "source"}));
  if (m.contains("persistent") && !m["persistent"].is_boolean())
    return rd.Error(mf + ".persistent", "must be true or false");
  cost->masked_persistent = m.value("persistent", false);
  for (auto [key, dst] : {std::pair{"cta_us", &cost->masked_cta_us}, {"tile_us", &cost->masked_whole_tile_us},
                          {"edge_tile_us", &cost->edge_tile_us}}) {
    const bool positive = dst == &cost->masked_whole_tile_us;
    if (!m.contains(key) || !m[key].is_number() || !std::isfinite(m[key].get<double>()) || m[key].get<double>() < 0 ||
        m[key].get<double>() > 1e6 || (positive && m[key].get<double>() <= 0))
      return rd.Error(mf + "." + key, positive ? "must be a number in (0, 1e6]" : "must be a number in [0, 1e6]");
    *dst = m[key].get<double>();
  }
  cost->masked_fitted = true;
  return Status::Ok();
}

// A wave model's CTA cost form: {"kernel_us", "cta_us", "tile_us", "masked_tile_us"}, each >= 0, tile_us > 0, and
// optionally the load clock {"load_knee", "load_slowdown"} and the power cap {"capped_after_us", "capped_slowdown"}
// (sim/wave_model.h CtaCost).
Status ParseCtaCost(const Reader& rd, const json& c, const std::string& cf, CtaCost* cost) {
  if (!c.is_object()) return rd.Error(cf, "must be an object {\"kernel_us\", \"cta_us\", \"tile_us\", \"masked_tile_us\"}");
  RINGLAB_RETURN_IF_ERROR(rd.Keys(c, cf, {"kernel_us", "cta_us", "tile_us", "masked_tile_us", "load_knee",
                                          "load_slowdown", "capped_after_us", "capped_slowdown", "masked", "source"}));
  for (auto [key, dst] : {std::pair{"kernel_us", &cost->kernel_us}, {"cta_us", &cost->cta_us},
                          {"tile_us", &cost->tile_us}, {"masked_tile_us", &cost->masked_tile_us}}) {
    const bool positive = dst == &cost->tile_us;
    if (!c.contains(key) || !c[key].is_number() || !std::isfinite(c[key].get<double>()) || c[key].get<double>() < 0 ||
        c[key].get<double>() > 1e6 || (positive && c[key].get<double>() <= 0))
      return rd.Error(cf + "." + key, positive ? "must be a number in (0, 1e6]" : "must be a number in [0, 1e6]");
    *dst = c[key].get<double>();
  }
  // The load clock and the power cap (optional; absent: no slowdown): load_knee, load_slowdown and capped_slowdown
  // in [0, 1], capped_after_us in [0, 1e9] us.
  for (auto [key, dst, hi] : {std::tuple{"load_knee", &cost->load_knee, 1.0},
                              {"load_slowdown", &cost->load_slowdown, 1.0},
                              {"capped_after_us", &cost->capped_after_us, 1e9},
                              {"capped_slowdown", &cost->capped_slowdown, 1.0}}) {
    if (!c.contains(key)) continue;
    if (!c[key].is_number() || !std::isfinite(c[key].get<double>()) || c[key].get<double>() < 0 ||
        c[key].get<double>() > hi)
      return rd.Error(cf + "." + key, hi == 1.0 ? "must be a number in [0, 1]" : "must be a number in [0, 1e9]");
    *dst = c[key].get<double>();
  }
  if (c.contains("masked")) RINGLAB_RETURN_IF_ERROR(ParseMaskedTerms(rd, c["masked"], cf + ".masked", cost));
  cost->enabled = true;
  return Status::Ok();
}

// An attention table's "wave" object (`wf` names it in errors).
Status ParseWaveModel(const Reader& rd, const json& w, const std::string& wf, WaveModel* wm) {
  if (!w.is_object()) return rd.Error(wf, "must be an object");
  RINGLAB_RETURN_IF_ERROR(rd.Keys(w, wf,
                                  {"grid", "tile_q", "tile_kv", "sms", "ctas_per_sm", "tile_us", "cta_overhead_tiles",
                                   "single_resident_throughput", "round_us", "cost", "order", "split_group",
                                   "expand_group"}));
  if (!w.contains("grid") || !w["grid"].is_string() || (w["grid"] != "q" && w["grid"] != "kv"))
    return rd.Error(wf + ".grid", "must be \"q\" or \"kv\"");
  wm->enabled = true;
  wm->grid_kv = w["grid"] == "kv";
  if (w.contains("order")) {
    if (!w["order"].is_string() || (w["order"] != "heavy_first" && w["order"] != "light_first"))
      return rd.Error(wf + ".order", "must be \"heavy_first\" or \"light_first\"");
    wm->light_first = w["order"] == "light_first";
  }
  // Two booleans in the JSON (the files name them so), one GroupWalk here: at most one may be true.
  if (w.contains("split_group")) {
    if (!w["split_group"].is_boolean() || (w["split_group"].get<bool>() && !wm->grid_kv))
      return rd.Error(wf + ".split_group", "must be true (grid \"kv\" only) or false");
    if (w["split_group"].get<bool>()) wm->group_walk = WaveModel::GroupWalk::kSplit;
  }
  if (w.contains("expand_group")) {
    if (!w["expand_group"].is_boolean() ||
        (w["expand_group"].get<bool>() && (!wm->grid_kv || wm->group_walk == WaveModel::GroupWalk::kSplit)))
      return rd.Error(wf + ".expand_group", "must be true (grid \"kv\" only, not with split_group) or false");
    if (w["expand_group"].get<bool>()) wm->group_walk = WaveModel::GroupWalk::kExpand;
  }
  struct Field { const char* key; double lo, hi; bool integer; double* d; int* i; };
  const Field fields[] = {{"tile_q", 1, 1 << 16, true, nullptr, &wm->tile_q},
                          {"tile_kv", 1, 1 << 16, true, nullptr, &wm->tile_kv},
                          {"sms", 1, 1 << 16, true, nullptr, &wm->sms},
                          {"ctas_per_sm", 1, 64, true, nullptr, &wm->ctas_per_sm},
                          {"tile_us", 1e-9, 1e6, false, &wm->tile_us, nullptr},
                          {"cta_overhead_tiles", 0, 1e6, false, &wm->cta_overhead_tiles, nullptr},
                          {"single_resident_throughput", 1e-3, 1, false, &wm->single_resident_throughput, nullptr}};
  const bool has_table = w.contains("round_us") || w.contains("cost");
  if (w.contains("round_us")) RINGLAB_RETURN_IF_ERROR(ParseRoundTable(rd, w["round_us"], wf, wm));
  if (w.contains("cost")) RINGLAB_RETURN_IF_ERROR(ParseCtaCost(rd, w["cost"], wf + ".cost", &wm->cost));
  for (const Field& fd : fields) {
    const std::string ff = wf + "." + fd.key;
    const bool optional = has_table && (fd.d == &wm->tile_us || fd.d == &wm->cta_overhead_tiles);
    if (optional && !w.contains(fd.key)) continue;
    if (!w.contains(fd.key) || !w[fd.key].is_number()) return rd.Error(ff, "must be a number");
    const double x = w[fd.key].get<double>();
    if (!std::isfinite(x) || x < fd.lo || x > fd.hi || (fd.integer && x != std::floor(x)))
      return rd.Error(ff, std::string("must be ") + (fd.integer ? "an integer " : "") + "in [" + Reader::Fmt(fd.lo) +
                              ", " + Reader::Fmt(fd.hi) + "]");
    if (fd.d) *fd.d = x;
    else *fd.i = int(x);
  }
  return Status::Ok();
}

// An attention table's optional "measured" ranges: {"batch_heads": [lo, hi], "ctas": [lo, hi], "tiles_per_cta": [lo,
// hi], "tile_multiple": N, "source": "..."}, 0 < lo <= hi, N an integer in [1, 65536]; the source (where the ranges
// come from) is for readers.
Status ParseMeasuredRanges(const Reader& rd, const json& t, const std::string& f, AttentionTable* tab) {
  if (!t.contains("measured")) return Status::Ok();
  const json& m = t["measured"];
  if (!m.is_object()) return rd.Error(f + ".measured", "must be an object {\"batch_heads\": [lo, hi], \"ctas\": [lo, hi]}");
  RINGLAB_RETURN_IF_ERROR(
      rd.Keys(m, f + ".measured", {"batch_heads", "ctas", "tiles_per_cta", "tile_multiple", "source"}));
  if (m.contains("tile_multiple")) {
    const json& n = m["tile_multiple"];
    if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > 65536)
      return rd.Error(f + ".measured.tile_multiple", "must be an integer in [1, 65536]");
    tab->measured_tile_multiple = n.get<int>();
  }
  for (auto [key, dst] : {std::pair{"batch_heads", &tab->measured_batch_heads}, {"ctas", &tab->measured_ctas},
                          {"tiles_per_cta", &tab->measured_tiles_per_cta}}) {
    if (!m.contains(key)) continue;
    const json& r = m[key];
    if (!r.is_array() || r.size() != 2 || !r[0].is_number() || !r[1].is_number() || r[0].get<double>() <= 0 ||
        r[1].get<double>() < r[0].get<double>())
      return rd.Error(f + ".measured." + key, "must be [lo, hi] with 0 < lo <= hi");
    *dst = {r[0].get<double>(), r[1].get<double>()};
  }
  return Status::Ok();
}

// One entry of compute.attention (`f` names it in errors).
Status ParseAttentionTable(const Reader& rd, const json& t, const std::string& f, AttentionTable* tab) {
  if (!t.is_object()) return rd.Error(f, "must be an object");
  RINGLAB_RETURN_IF_ERROR(
      rd.Keys(t, f, {"pass", "mask", "head_dim", "points", "source", "wave", "measured", "mode"}));
  if (!t.contains("pass") || !t["pass"].is_string() ||
      (t["pass"] != "forward" && t["pass"] != "backward"))
    return rd.Error(f + ".pass", "must be \"forward\" or \"backward\"");
  if (!t.contains("mask") || !t["mask"].is_string() || (t["mask"] != "causal" && t["mask"] != "full"))
    return rd.Error(f + ".mask", "must be \"causal\" or \"full\"");
  if (!t.contains("head_dim") || !t["head_dim"].is_number_integer() || t["head_dim"].get<int>() <= 0)
    return rd.Error(f + ".head_dim", "must be a positive integer");
  if (!t.contains("source") || !t["source"].is_string() || t["source"].get<std::string>().empty())
    return rd.Error(f + ".source", "must be a non-empty string saying where the numbers come from");
  if (t.contains("wave")) RINGLAB_RETURN_IF_ERROR(ParseWaveModel(rd, t["wave"], f + ".wave", &tab->wave));
  if (!tab->wave.enabled && (!t.contains("points") || !t["points"].is_array() || t["points"].empty()))
    return rd.Error(f + ".points", "must be a non-empty array of [block tokens, TFLOP/s]");
  tab->pass = t["pass"];
  tab->mask = t["mask"];
  tab->head_dim = t["head_dim"];
  tab->source = t["source"];
  if (t.contains("mode")) {
    if (t["pass"] != "forward" || !t["mode"].is_string() || (t["mode"] != "merge" && t["mode"] != "overwrite"))
      return rd.Error(f + ".mode", "must be \"merge\" or \"overwrite\", on a forward table only");
    tab->mode = t["mode"];
  }
  for (size_t k = 0; t.contains("points") && k < t["points"].size(); ++k) {
    const json& pt = t["points"][k];
    const std::string pf = f + ".points[" + std::to_string(k) + "]";
    if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number() || pt[0].get<double>() <= 0 ||
        pt[1].get<double>() <= 0)
      return rd.Error(pf, "must be [block tokens > 0, TFLOP/s > 0]");
    if (!tab->points.empty() && pt[0].get<double>() <= tab->points.back().first)
      return rd.Error(pf, "block tokens must increase along the table");
    tab->points.emplace_back(pt[0].get<double>(), pt[1].get<double>());
  }
  return ParseMeasuredRanges(rd, t, f, tab);
}

// compute.attention: the tables, at most one per (pass, mask, head_dim, mode).
Status ParseAttentionTables(const Reader& rd, const json& c, HardwareProfile* p) {
  if (!c.contains("attention")) return Status::Ok();
  const json& a = c.at("attention");
  if (!a.is_array()) return rd.Error("compute.attention", "must be an array of tables");
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string f = "compute.attention[" + std::to_string(i) + "]";
    AttentionTable tab;
    RINGLAB_RETURN_IF_ERROR(ParseAttentionTable(rd, a[i], f, &tab));
    for (const AttentionTable& o : p->attention)
      if (o.pass == tab.pass && o.mask == tab.mask && o.head_dim == tab.head_dim && o.mode == tab.mode)
        return rd.Error(f, "duplicates an earlier table for the same pass, mask, head_dim and mode");
    p->attention.push_back(std::move(tab));
  }
  return Status::Ok();
}

// memory.*; merge_kernels is checked to be an integer by the caller (after the network, as errors come in that order).
Status ParseMemory(const Reader& rd, const json& m, HardwareProfile* p, double* merge_kernels) {
  RINGLAB_RETURN_IF_ERROR(rd.Keys(m, "memory", {"hbm_gbps", "copy_gbps", "merge_gbps", "merge_kernels", "memory_gib"}));
  RINGLAB_RETURN_IF_ERROR(rd.Number(m, "memory", "hbm_gbps", 1e-3, 1e9, &p->hbm_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(m, "memory", "copy_gbps", 1e-3, 1e9, &p->copy_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(m, "memory", "merge_gbps", 1e-3, 1e9, &p->merge_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(m, "memory", "merge_kernels", 1, 1000, merge_kernels, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(m, "memory", "memory_gib", 1e-3, 1e9, &p->memory_gib));
  return Status::Ok();
}

// network.*, the measured point-to-point times included; gpus_per_node is checked to be an integer by the caller.
Status ParseNetwork(const Reader& rd, const json& n, HardwareProfile* p, double* gpus_per_node) {
  RINGLAB_RETURN_IF_ERROR(rd.Keys(
      n, "network",
      {"gpus_per_node", "nvlink_gbps", "nvlink_latency_us", "nic_gbps", "nic_latency_us", "collective_step_latency_us",
       "comm_rate_beside_compute", "backward_comm_rate_beside_compute", "p2p_time_us", "collective_hop_latency_us",
       "alltoall_time_us"}));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "gpus_per_node", 1, 1 << 20, gpus_per_node));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "nvlink_gbps", 1e-3, 1e9, &p->nvlink_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "nvlink_latency_us", 0, 1e6, &p->nvlink_latency_us));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "nic_gbps", 1e-3, 1e9, &p->nic_gbps));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "nic_latency_us", 0, 1e6, &p->nic_latency_us));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "collective_step_latency_us", 0, 1e6,
                                    &p->collective_step_latency_us, /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "comm_rate_beside_compute", 0.01, 1, &p->comm_rate_beside_compute,
                                    /*required=*/false));
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "backward_comm_rate_beside_compute", 0.01, 1,
                                    &p->backward_comm_rate_beside_compute, /*required=*/false));
  if (n.contains("p2p_time_us")) {
    const json& v = n.at("p2p_time_us");
    const std::string field = "network.p2p_time_us";
    if (!v.is_object() || !v.contains("source") || !v.at("source").is_string())
      return rd.Error(field, "must be an object {\"pair\": [[bytes, us], ...], \"ring\": ..., \"source\": string}");
    RINGLAB_RETURN_IF_ERROR(rd.Keys(v, field, {"pair", "ring", "source"}));
    for (auto [key, dst] : {std::pair{"pair", &p->p2p_time_pair_us}, std::pair{"ring", &p->p2p_time_ring_us}})
      RINGLAB_RETURN_IF_ERROR(ParseBytesTable(rd, v, field, key, /*positive=*/true,
                                              "entries must be [bytes > 0, us > 0] with ascending bytes", dst));
  }
  if (n.contains("alltoall_time_us")) {
    const json& v = n.at("alltoall_time_us");
    const std::string field = "network.alltoall_time_us";
    if (!v.is_object() || !v.contains("source") || !v.at("source").is_string())
      return rd.Error(field, "must be an object {\"nvlink\": [[bytes, us], ...], \"source\": string}");
    RINGLAB_RETURN_IF_ERROR(rd.Keys(v, field, {"nvlink", "source"}));
    RINGLAB_RETURN_IF_ERROR(ParseBytesTable(rd, v, field, "nvlink", /*positive=*/true,
                                            "entries must be [bytes > 0, us > 0] with ascending bytes",
                                            &p->alltoall_time_us));
  }
  RINGLAB_RETURN_IF_ERROR(rd.Number(n, "network", "collective_hop_latency_us", 0, 1e6, &p->collective_hop_latency_us,
                                    /*required=*/false));
  return Status::Ok();
}

}  // namespace

Status ParseProfile(const json& j, const std::string& origin, HardwareProfile* out) {
  Reader rd(origin);
  HardwareProfile p;
  RINGLAB_RETURN_IF_ERROR(ParseHeader(rd, j, &p));
  const json *c = nullptr, *m = nullptr, *n = nullptr;
  RINGLAB_RETURN_IF_ERROR(rd.Object(j, "compute", &c));
  RINGLAB_RETURN_IF_ERROR(rd.Object(j, "memory", &m));
  RINGLAB_RETURN_IF_ERROR(rd.Object(j, "network", &n));
  RINGLAB_RETURN_IF_ERROR(ParseComputeNumbers(rd, *c, &p));
  RINGLAB_RETURN_IF_ERROR(ParseHeldSms(rd, *c, &p));
  RINGLAB_RETURN_IF_ERROR(ParseStartOrder(rd, *c, &p));
  RINGLAB_RETURN_IF_ERROR(ParseKernelFirst(rd, *c, &p));
  RINGLAB_RETURN_IF_ERROR(ParseAttentionTables(rd, *c, &p));
  double merge_kernels = 1, gpn = 8;
  RINGLAB_RETURN_IF_ERROR(ParseMemory(rd, *m, &p, &merge_kernels));
  RINGLAB_RETURN_IF_ERROR(ParseNetwork(rd, *n, &p, &gpn));
  if (merge_kernels != std::floor(merge_kernels)) return rd.Error("memory.merge_kernels.value", "must be an integer");
  if (gpn != std::floor(gpn)) return rd.Error("network.gpus_per_node.value", "must be an integer");
  p.merge_kernels = int(merge_kernels);
  p.gpus_per_node = int(gpn);
  *out = std::move(p);
  return Status::Ok();
}

std::string ProfileDir() {
  if (const char* env = std::getenv("RINGLAB_PROFILE_DIR"); env && *env) return env;  // set and not empty
#ifdef RINGLAB_SIM_PROFILE_DIR
  return RINGLAB_SIM_PROFILE_DIR;
#else
  return "sim/profiles";
#endif
}

std::string ProfilePath(const std::string& name_or_path) {
  const bool looks_like_path = name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".json");
  return looks_like_path ? name_or_path : ProfileDir() + "/" + name_or_path + ".json";
}

Status LoadProfile(const std::string& name_or_path, HardwareProfile* out, std::string* text) {
  const std::string path = ProfilePath(name_or_path);
  const bool looks_like_path = path == name_or_path;
  // access(), not opening it: an ifstream on a fifo that no writer opens blocks for ever (ReadInputFile bounds that).
  if (::access(path.c_str(), R_OK) != 0)
    return Status::InvalidArgument(
        "cannot open profile '" + path + "'" +
        (looks_like_path ? ""
                         : std::string(" (a bundled name such as h100_sxm, or a path to a .json") +
                               (std::getenv("RINGLAB_PROFILE_DIR") ? "; bundled profiles are read from "
                                                                     "RINGLAB_PROFILE_DIR"
                                                                   : "") +
                               ")"));
  std::string read;
  if (Status st = ReadInputFile(path, kMaxInputFileBytes, &read); !st.ok())
    return Status::InvalidArgument("profile " + path + ": " + st.message());
  json j;
  RINGLAB_RETURN_IF_ERROR(ParseJsonText(read, "profile " + path, &j));
  RINGLAB_RETURN_IF_ERROR(ParseProfile(j, path, out));
  if (text) *text = std::move(read);
  return Status::Ok();
}

}  // namespace ringlab::sim
