#include "calibrate/samples.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/json_file.h"

namespace ringlab::calibrate {

using nlohmann::json;

json ToJson(const FitInputs& in) {
  json j;
  j["sms"] = in.sms;
  auto geo = [](const KernelGeometry& g) {
    json o{{"grid", g.grid_kv ? "kv" : "q"}, {"tile_q", g.tile_q}, {"tile_kv", g.tile_kv},
           {"ctas_per_sm", g.ctas_per_sm}};
    if (g.split_group) o["split_group"] = true;
    if (g.expand_group) o["expand_group"] = true;
    return o;
  };
  j["geometry"] = {{"forward", geo(in.forward)}, {"backward", geo(in.backward)}};
  for (const auto& [d, g] : in.geometry_by_head_dim)
    j["geometry_by_head_dim"][std::to_string(d)] = {{"forward", geo(g.first)}, {"backward", geo(g.second)}};
  j["kernels"] = json::array();
  for (const KernelSample& k : in.kernels) {
    json s = {{"pass", k.pass}, {"mask", k.mask}, {"head_dim", k.head_dim}, {"batch", k.batch},
              {"heads", k.heads}, {"kv_heads", k.kv_heads}, {"q", k.q}, {"kv", k.kv},
              {"diagonal_offset", k.diagonal_offset}, {"pairs", k.pairs}, {"us", k.us}};
    if (!k.mode.empty()) s["mode"] = k.mode;
    j["kernels"].push_back(s);
  }
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

namespace {

// Reads one samples JSON; every error names the file (origin), and a key the reader does not know is an error naming
// it (a typo or another file's), not an ignored sample. The json accessors throw on a malformed entry: FromJson
// catches that and names the section being read.
constexpr int64_t kIntLo = std::numeric_limits<int>::min(), kIntHi = std::numeric_limits<int>::max();
constexpr int64_t kInt64Lo = std::numeric_limits<int64_t>::min(), kInt64Hi = std::numeric_limits<int64_t>::max();

class SampleReader {
 public:
  explicit SampleReader(const std::string& origin) : origin_(origin) {}

  std::string section = "the top level";  // what is being read, for a malformed entry's message

  Status Bad(const std::string& what) const { return Status::InvalidArgument("samples " + origin_ + ": " + what); }

  Status Keys(const json& obj, const std::string& field, std::initializer_list<std::string_view> known) const {
    const std::string unknown = UnknownKeys(obj, field, known);
    return unknown.empty() ? Status::Ok() : Bad(unknown);
  }

  // The integer fields `keys` of obj (those present): whole numbers in [lo, hi]. The json accessors convert anything
  // numeric silently: 4294967304 heads read as 8, 1.5 tokens as 1, true as 1.
  Status Integers(const json& obj, const std::string& field, std::initializer_list<const char*> keys, int64_t lo,
                  int64_t hi) const {
    if (!obj.is_object()) return Status::Ok();  // the accessors name the section
    for (const char* key : keys) {
      if (!obj.contains(key)) continue;
      const json& v = obj[key];
      bool ok = false;
      if (v.is_number_unsigned()) ok = v.get<uint64_t>() <= uint64_t(hi);  // lo <= 0 here
      else if (v.is_number_integer()) ok = v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
      else if (v.is_number_float()) {
        const double d = v.get<double>();
        ok = std::isfinite(d) && d == std::floor(d) && d >= double(lo) && d < double(hi) + 1.0;  // 2^63 for int64
      }
      if (!ok)
        return Bad((field.empty() ? "" : field + ".") + key + ": must be an integer in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], got " + v.dump());
    }
    return Status::Ok();
  }

  // The top level: what the file is, its known keys, sms and the lists' types.
  Status Header(const json& j, FitInputs* in) const {
    if (!j.is_object()) return Bad("must be a JSON object (the samples written by `ringlab calibrate`)");
    if (j.contains("traceEvents"))
      return Bad(
          "is a trace, not a samples file: expected the samples JSON written by `ringlab calibrate "
          "--samples` or calibrate/scripts/calibrate.py (which turns real run traces into samples)");
    if (j.contains("ranks") || j.contains("compute"))
      return Bad(std::string("is a ") + (j.contains("ranks") ? "schedule" : "hardware profile") +
                 ", not a samples file: expected the samples JSON written by `ringlab calibrate --samples` or "
                 "calibrate/scripts/calibrate.py");
    RINGLAB_RETURN_IF_ERROR(
        Keys(j, "",
             {"sms", "geometry", "geometry_by_head_dim", "kernels", "transfers", "memory", "start_waits", "nccl_held",
              "beside_kernels", "launch_gaps_us", "start_skews_us", "overlap_us", "provenance"}));
    RINGLAB_RETURN_IF_ERROR(Integers(j, "", {"sms"}, kIntLo, kIntHi));
    in->sms = j.value("sms", 132);
    if (in->sms <= 0) return Bad("sms must be > 0");
    for (const char* list : {"kernels", "transfers", "memory", "start_waits", "nccl_held", "beside_kernels",
                             "launch_gaps_us", "start_skews_us", "overlap_us"})
      if (j.contains(list) && !j[list].is_array()) return Bad(std::string(list) + " must be an array");
    return Status::Ok();
  }

  // One {"forward": .., "backward": ..} object into (forward, backward); `field` names it in errors.
  Status Geometry(const json& obj, const std::string& field, KernelGeometry* forward, KernelGeometry* backward) const {
    // Not an object: its keys were never checked and its geometry silently stayed the default.
    if (!obj.is_object()) return Bad(field + " must be an object: {\"forward\": {..}, \"backward\": {..}}");
    RINGLAB_RETURN_IF_ERROR(Keys(obj, field, {"forward", "backward"}));
    for (const char* pass : {"forward", "backward"}) {
      if (!obj.contains(pass)) continue;
      const json& g = obj[pass];
      const std::string where = field + "." + pass;
      // "order" (launch order of a causal head's CTAs) is for the CTA cost fit (calibrate/scripts/kernel_model_fit.py).
      RINGLAB_RETURN_IF_ERROR(Keys(g, where, {"grid", "tile_q", "tile_kv", "ctas_per_sm", "order", "split_group",
                                           "expand_group"}));
      RINGLAB_RETURN_IF_ERROR(Integers(g, where, {"tile_q", "tile_kv", "ctas_per_sm"}, kIntLo, kIntHi));
      KernelGeometry& kg = std::string(pass) == "forward" ? *forward : *backward;
      kg.grid_kv = g.at("grid").get<std::string>() == "kv";
      kg.tile_q = g.at("tile_q");
      kg.tile_kv = g.at("tile_kv");
      kg.ctas_per_sm = g.at("ctas_per_sm");
      if (g.contains("split_group")) {
        if (!g["split_group"].is_boolean()) return Bad(where + ".split_group: must be true or false");
        kg.split_group = g["split_group"].get<bool>();
      }
      // The GQA walk of a kv grid (sim/wave_model.h GroupWalk): read by calibrate/scripts/kernel_model_fit.py.
      if (g.contains("expand_group")) {
        if (!g["expand_group"].is_boolean() || (g["expand_group"].get<bool>() && (!kg.grid_kv || kg.split_group)))
          return Bad(where + ".expand_group: must be true (grid \"kv\" only, not with split_group) or false");
        kg.expand_group = g["expand_group"].get<bool>();
      }
      if (kg.tile_q <= 0 || kg.tile_kv <= 0 || kg.ctas_per_sm < 0 || kg.ctas_per_sm > 64)
        return Bad(where + ": tiles must be > 0 and ctas_per_sm in 0..64");
    }
    return Status::Ok();
  }

  // "geometry" and "geometry_by_head_dim" (unset passes of a head dim keep the default geometry).
  Status Geometries(const json& j, FitInputs* in) {
    section = "geometry";
    if (j.contains("geometry")) RINGLAB_RETURN_IF_ERROR(Geometry(j["geometry"], "geometry", &in->forward, &in->backward));
    const json by_head_dim = j.value("geometry_by_head_dim", json::object());
    if (!by_head_dim.is_object()) return Bad("geometry_by_head_dim must be an object: head dim -> {forward, backward}");
    for (const auto& [key, g] : by_head_dim.items()) {
      int d = 0;
      try {
        d = std::stoi(key);
      } catch (const std::exception&) {
      }
      if (d <= 0 || std::to_string(d) != key) return Bad("geometry_by_head_dim: key '" + key + "' is not a head dim");
      std::pair<KernelGeometry, KernelGeometry> both{in->forward, in->backward};
      RINGLAB_RETURN_IF_ERROR(Geometry(g, "geometry_by_head_dim." + key, &both.first, &both.second));
      in->geometry_by_head_dim[d] = both;
    }
    return Status::Ok();
  }

  Status Kernel(const json& k, const std::string& field, KernelSample* out) const {
    RINGLAB_RETURN_IF_ERROR(Integers(k, field, {"head_dim", "batch", "heads", "kv_heads"}, kIntLo, kIntHi));
    RINGLAB_RETURN_IF_ERROR(Integers(k, field, {"q", "kv", "diagonal_offset"}, kInt64Lo, kInt64Hi));
    KernelSample s{k.at("pass"), k.at("mask"), k.at("head_dim"), k.value("batch", 1), k.at("heads"),
                   k.at("kv_heads"), k.at("q"), k.at("kv"), k.value("diagonal_offset", int64_t(0)), k.at("pairs"),
                   k.at("us")};
    if ((s.pass != "forward" && s.pass != "backward") || (s.mask != "full" && s.mask != "causal"))
      return Bad(field + ": kernel sample with pass '" + s.pass + "' mask '" + s.mask + "'");
    s.mode = k.value("mode", std::string(s.pass == "forward" ? "merge" : ""));
    if (s.pass == "forward" ? (s.mode != "merge" && s.mode != "overwrite") : !s.mode.empty())
      return Bad(field + ": kernel sample mode '" + s.mode +
                 "': forward samples take merge or overwrite, backward none");
    if (s.q <= 0 || s.kv <= 0 || s.pairs <= 0 || s.us <= 0 || s.heads <= 0 || s.kv_heads <= 0 ||
        s.heads % s.kv_heads != 0)
      return Bad(field + ": kernel sample needs q, kv, pairs, us, heads > 0 and heads divisible by kv_heads");
    // pairs counts the (query, key) pairs of one head's q x kv block: more than q x kv is a miscount the fit would
    // read as cheap work. The slack is for pairs derived from rounded FLOP counts (trace_samples.py).
    const double block = double(s.q) * double(s.kv);
    if (s.pairs > block * (1 + 1e-9))
      return Bad(field + ".pairs: must be at most q x kv = " + std::to_string(s.q) + " x " + std::to_string(s.kv) +
                 " (the pairs of one head's block), got " + json(s.pairs).dump());
    *out = s;
    return Status::Ok();
  }

  // "kernels" and "beside_kernels".
  Status Kernels(const json& j, FitInputs* in) {
    const json kernels = j.value("kernels", json::array());
    for (size_t i = 0; i < kernels.size(); ++i) {
      section = "kernels[" + std::to_string(i) + "]";
      RINGLAB_RETURN_IF_ERROR(Keys(kernels[i], section,
                                   {"pass", "mask", "head_dim", "batch", "heads", "kv_heads", "q", "kv",
                                    "diagonal_offset", "pairs", "us", "mode"}));
      KernelSample s;
      RINGLAB_RETURN_IF_ERROR(Kernel(kernels[i], section, &s));
      in->kernels.push_back(s);
    }
    const json beside = j.value("beside_kernels", json::array());
    for (size_t i = 0; i < beside.size(); ++i) {
      section = "beside_kernels[" + std::to_string(i) + "]";
      RINGLAB_RETURN_IF_ERROR(Keys(beside[i], section,
                                   {"pass", "mask", "head_dim", "batch", "heads", "kv_heads", "q", "kv",
                                    "diagonal_offset", "pairs", "us", "overlap"}));
      FitInputs::BesideKernel b;
      RINGLAB_RETURN_IF_ERROR(Kernel(beside[i], section, &b.kernel));
      // A fraction of the kernel's time: outside [0, 1] is a broken sample, not one to clamp into range.
      b.overlap = beside[i].value("overlap", 1.0);
      if (!(b.overlap >= 0 && b.overlap <= 1))
        return Bad(section + ".overlap: must be in [0, 1] (the kernel's time beside traffic), got " +
                   beside[i]["overlap"].dump());
      in->beside_kernels.push_back(b);
    }
    return Status::Ok();
  }

  // "transfers", "memory", "start_waits" and "nccl_held": the communication and memory samples.
  Status CommAndMemory(const json& j, FitInputs* in) {
    section = "transfers";
    for (const json& t : j.value("transfers", json::array())) {
      RINGLAB_RETURN_IF_ERROR(
          Keys(t, "transfers[]", {"kind", "world", "bytes", "us", "beside_compute", "beside_pass"}));
      RINGLAB_RETURN_IF_ERROR(Integers(t, "transfers[]", {"world"}, kIntLo, kIntHi));
      RINGLAB_RETURN_IF_ERROR(Integers(t, "transfers[]", {"bytes"}, kInt64Lo, kInt64Hi));
      TransferSample s{t.at("kind"), t.value("world", 2), t.at("bytes"), t.at("us"), t.value("beside_compute", false),
                       t.value("beside_pass", std::string("forward"))};
      if (s.beside_pass != "forward" && s.beside_pass != "backward")
        return Bad("transfer sample beside_pass must be forward or backward");
      if ((s.kind != "p2p" && s.kind != "all-gather" && s.kind != "alltoall") || s.bytes <= 0 || s.us <= 0 ||
          s.world < 2)
        return Bad("transfer sample needs kind p2p|all-gather, bytes > 0, us > 0, world >= 2");
      in->transfers.push_back(s);
    }
    section = "memory";
    for (const json& m : j.value("memory", json::array())) {
      RINGLAB_RETURN_IF_ERROR(Keys(m, "memory[]", {"kind", "bytes", "us"}));
      RINGLAB_RETURN_IF_ERROR(Integers(m, "memory[]", {"bytes"}, kInt64Lo, kInt64Hi));
      MemorySample s{m.at("kind"), m.at("bytes"), m.at("us")};
      if ((s.kind != "merge" && s.kind != "copy") || s.bytes <= 0 || s.us <= 0)
        return Bad("memory sample needs kind merge|copy, bytes > 0, us > 0");
      in->memory.push_back(s);
    }
    section = "start_waits";
    for (const json& w : j.value("start_waits", json::array())) {
      RINGLAB_RETURN_IF_ERROR(Keys(w, "start_waits[]", {"bytes", "kernel_left_us", "us", "kernel_ctas"}));
      RINGLAB_RETURN_IF_ERROR(Integers(w, "start_waits[]", {"bytes", "kernel_ctas"}, kInt64Lo, kInt64Hi));
      StartWaitSample s{w.at("bytes"), w.at("kernel_left_us"), w.at("us"), w.value("kernel_ctas", int64_t(0))};
      if (s.bytes <= 0 || s.kernel_left_us <= 0 || s.us <= 0)
        return Bad("start_waits sample needs bytes, kernel_left_us, us > 0");
      in->start_waits.push_back(s);
    }
    section = "nccl_held";
    for (const json& h : j.value("nccl_held", json::array())) {
      RINGLAB_RETURN_IF_ERROR(Keys(h, "nccl_held[]", {"kind", "world", "bytes", "sms"}));
      RINGLAB_RETURN_IF_ERROR(Integers(h, "nccl_held[]", {"world", "sms"}, kIntLo, kIntHi));
      RINGLAB_RETURN_IF_ERROR(Integers(h, "nccl_held[]", {"bytes"}, kInt64Lo, kInt64Hi));
      NcclHeldSample s{h.at("kind"), h.at("world"), h.at("bytes"), h.at("sms")};
      if ((s.kind != "p2p" && s.kind != "all-gather") || s.world < 2 || s.bytes <= 0 || s.sms < 0)
        return Bad("nccl_held sample needs kind p2p|all-gather, world >= 2, bytes > 0, sms >= 0");
      in->nccl_held.push_back(s);
    }
    return Status::Ok();
  }

  // The host samples from real run traces: start skews, launch gaps, overlaps; and the provenance.
  Status Host(const json& j, FitInputs* in) {
    // A skew is the spread of the ranks' first starts and an overlap pair two kernel times: below zero (or a zero
    // time, which the fit divides by) they are broken samples; the fit's clamps at 0 hid them.
    const json skews = j.value("start_skews_us", json::array());
    for (size_t i = 0; i < skews.size(); ++i) {
      section = "start_skews_us[" + std::to_string(i) + "]";
      const std::string pass = skews[i].at(0).get<std::string>();
      if (pass != "forward" && pass != "backward") return Bad(section + ": pass must be forward or backward");
      const double us = skews[i].at(1).get<double>();
      if (!(us >= 0)) return Bad(section + ": the skew (us) must be >= 0, got " + skews[i][1].dump());
      in->start_skews_us.emplace_back(pass, us);
    }
    // Launch gaps may be below zero: event timestamps of back-to-back kernels jitter (the fit takes their median).
    section = "launch_gaps_us";
    for (const json& g : j.value("launch_gaps_us", json::array())) in->launch_gaps_us.push_back(g.get<double>());
    const json overlaps = j.value("overlap_us", json::array());
    for (size_t i = 0; i < overlaps.size(); ++i) {
      section = "overlap_us[" + std::to_string(i) + "]";
      const double alone = overlaps[i].at(0).get<double>(), beside_us = overlaps[i].at(1).get<double>();
      if (!(alone > 0 && beside_us > 0))
        return Bad(section + ": both times (alone, beside traffic; us) must be > 0, got " + overlaps[i].dump());
      in->overlap_us.emplace_back(alone, beside_us);
    }
    in->provenance = j.value("provenance", json::object());
    // fit-profile adds its own keys to it (operator[] on an array or string threw out of the fit: exit 3).
    if (!in->provenance.is_object()) return Bad("provenance must be an object (card, driver, date, command ...)");
    return Status::Ok();
  }

 private:
  std::string origin_;
};

}  // namespace

Status FromJson(const json& j, const std::string& origin, FitInputs* out) {
  FitInputs in;
  SampleReader r(origin);
  try {
    RINGLAB_RETURN_IF_ERROR(r.Header(j, &in));
    RINGLAB_RETURN_IF_ERROR(r.Geometries(j, &in));
    RINGLAB_RETURN_IF_ERROR(r.Kernels(j, &in));
    RINGLAB_RETURN_IF_ERROR(r.CommAndMemory(j, &in));
    RINGLAB_RETURN_IF_ERROR(r.Host(j, &in));
  } catch (const json::exception& e) {
    return r.Bad("malformed entry in " + r.section + ": " + e.what());
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
    for (const auto& [d, g] : b.geometry_by_head_dim) a->geometry_by_head_dim[d] = g;
  }
  for (auto it = b.provenance.begin(); it != b.provenance.end(); ++it) a->provenance[it.key()] = it.value();
}

const KernelGeometry& GeometryOf(const FitInputs& in, const std::string& pass, int head_dim) {
  const auto it = in.geometry_by_head_dim.find(head_dim);
  if (it != in.geometry_by_head_dim.end()) return pass == "forward" ? it->second.first : it->second.second;
  return pass == "forward" ? in.forward : in.backward;
}

double MedianOf(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace ringlab::calibrate
