#include "core/config_json.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/trace.h"

namespace ringlab {

using nlohmann::json;

json ToJson(const Problem& p) {
  json j{{"batch", p.batch},       {"heads", p.heads},   {"kv_heads", p.kv_heads},
         {"seq", p.seq},           {"head_dim", p.head_dim}, {"dtype", std::string(DTypeName(p.dtype))},
         {"causal", p.causal}};
  // Mask fields only when set, so plain files stay as they were.
  if (p.mask.HasWindow()) j["window"] = {p.mask.window_left, p.mask.window_right};
  if (p.mask.HasDocuments()) {
    j["cu_seqlens"] = *p.mask.documents;
    j["documents_name"] = p.mask.documents_name;
  }
  return j;
}

json ToJson(const ScheduleConfig& cfg) {
  return json{{"problem", ToJson(cfg.problem)},
              {"world", cfg.world},
              {"sharding", std::string(ShardingName(cfg.sharding))},
              {"method", std::string(MethodName(cfg.method))},
              {"pass", std::string(PassName(cfg.pass))},
              {"variants", {{"fused_merge", cfg.variants.fused_merge}, {"pack_kv", cfg.variants.pack_kv}}},
              {"ulysses", cfg.ulysses},
              {"ring", cfg.world / std::max(cfg.ulysses, 1)},
              {"placement", std::string(PlacementName(cfg.placement))}};
}

json ToJson(const Op& op) {
  json j{{"id", op.id},   {"kind", std::string(OpKindName(op.kind))}, {"stream", std::string(StreamName(op.stream))},
         {"step", op.step}, {"bytes", op.bytes}, {"flops", op.flops}};
  if (op.peer >= 0) j["peer"] = op.peer;
  if (op.tag >= 0) j["tag"] = op.tag;
  if (op.group >= 0) j["group"] = op.group;
  if (op.kind == OpKind::kAttend || op.kind == OpKind::kMerge) {
    const AttendBlock& b = op.attend;
    j["block"] = {{"q", {b.q_begin, b.q_end}}, {"kv_origin", b.kv_origin}, {"kv", {b.kv_begin, b.kv_end}},
                  {"causal", b.causal},         {"diagonal_offset", b.diagonal_offset}, {"merge", b.merge}};
    if (b.masked) j["block"]["masked"] = {{"q_global", b.q_global}, {"kv_global", b.kv_global}, {"pairs", b.masked_pairs}};
  }
  auto names = [](const auto& list) {
    json a = json::array();
    for (const BufferRef& b : list) a.push_back(BufferRefName(b));
    return a;
  };
  j["reads"] = names(op.reads);
  j["writes"] = names(op.writes);
  j["deps"] = json::array();
  for (int32_t d : op.deps) j["deps"].push_back(d);
  return j;
}

json ToJson(const Schedule& schedule) {
  json ranks = json::array();
  for (size_t r = 0; r < schedule.ranks.size(); ++r) {
    json buffers = json::array(), ops = json::array();
    for (const BufferInfo& b : schedule.ranks[r].buffers)
      buffers.push_back({{"name", BufferRefName(b.ref)}, {"bytes", b.bytes}});
    for (const Op& op : schedule.ranks[r].ops) ops.push_back(ToJson(op));
    ranks.push_back({{"rank", r}, {"buffers", buffers}, {"ops", ops}});
  }
  return json{{"config", ToJson(schedule.config)}, {"op_count", schedule.OpCount()}, {"ranks", ranks}};
}

namespace {

// True when `v` is a JSON integer that T holds. nlohmann's get<int>() converts silently: 2.5 to 2, true to 1 and
// 4294967300 to 4, so a file saying world 4294967300 would read as world 4.
template <typename T>
bool IntegerFits(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max());
  if (!v.is_number_integer()) return false;
  const int64_t x = v.get<int64_t>();
  return x >= int64_t(std::numeric_limits<T>::min()) &&
         uint64_t(std::max<int64_t>(x, 0)) <= uint64_t(std::numeric_limits<T>::max());
}

template <typename T>
Status Get(const json& j, const char* field, const std::string& where, T* out) {
  if (!j.contains(field)) return Status::InvalidArgument(where + "." + field + " is missing");
  const json& v = j.at(field);
  bool ok = true;
  if constexpr (std::is_same_v<T, bool>) {
    ok = v.is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    ok = IntegerFits<T>(v);
  } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
    ok = v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return IntegerFits<int64_t>(x); });
  }
  if (!ok)
    return Status::InvalidArgument(where + "." + field + " has the wrong type or is out of range (got " + v.dump() +
                                   ")");
  try {
    *out = v.get<T>();
  } catch (const json::exception&) {
    return Status::InvalidArgument(where + "." + field + " has the wrong type (got " + v.dump() + ")");
  }
  return Status::Ok();
}

}  // namespace

Status FromJson(const json& j, Problem* p) {
  if (!j.is_object()) return Status::InvalidArgument("problem must be an object");
  std::string dtype;
  RINGLAB_RETURN_IF_ERROR(Get(j, "batch", "problem", &p->batch));
  RINGLAB_RETURN_IF_ERROR(Get(j, "heads", "problem", &p->heads));
  RINGLAB_RETURN_IF_ERROR(Get(j, "kv_heads", "problem", &p->kv_heads));
  RINGLAB_RETURN_IF_ERROR(Get(j, "seq", "problem", &p->seq));
  RINGLAB_RETURN_IF_ERROR(Get(j, "head_dim", "problem", &p->head_dim));
  RINGLAB_RETURN_IF_ERROR(Get(j, "causal", "problem", &p->causal));
  RINGLAB_RETURN_IF_ERROR(Get(j, "dtype", "problem", &dtype));
  auto d = ParseDType(dtype);
  if (!d) return Status::InvalidArgument("problem.dtype '" + dtype + "' is not one of bf16, fp16, fp32, fp64");
  p->dtype = *d;
  p->mask = MaskShape{};
  if (j.contains("window")) {
    std::vector<int64_t> w;
    RINGLAB_RETURN_IF_ERROR(Get(j, "window", "problem", &w));
    if (w.size() != 2) return Status::InvalidArgument("problem.window must be [left, right] (got " + j["window"].dump() + ")");
    p->mask.window_left = w[0];
    p->mask.window_right = w[1];
  }
  if (j.contains("cu_seqlens")) {
    std::vector<int64_t> cu;
    RINGLAB_RETURN_IF_ERROR(Get(j, "cu_seqlens", "problem", &cu));
    p->mask.documents = std::make_shared<const std::vector<int64_t>>(std::move(cu));
    p->mask.documents_name = "file";
    if (j.contains("documents_name"))
      RINGLAB_RETURN_IF_ERROR(Get(j, "documents_name", "problem", &p->mask.documents_name));
  }
  return ValidateMaskShape(p->mask, p->seq);
}

Status FromJson(const json& j, ScheduleConfig* cfg) {
  if (!j.is_object()) return Status::InvalidArgument("config must be an object");
  if (!j.contains("problem")) return Status::InvalidArgument("config.problem is missing");
  RINGLAB_RETURN_IF_ERROR(FromJson(j.at("problem"), &cfg->problem));
  std::string sharding, method, pass;
  RINGLAB_RETURN_IF_ERROR(Get(j, "world", "config", &cfg->world));
  RINGLAB_RETURN_IF_ERROR(Get(j, "sharding", "config", &sharding));
  RINGLAB_RETURN_IF_ERROR(Get(j, "method", "config", &method));
  RINGLAB_RETURN_IF_ERROR(Get(j, "pass", "config", &pass));
  auto s = ParseSharding(sharding);
  if (!s) return Status::InvalidArgument("config.sharding '" + sharding + "' is not one of contiguous, head-tail");
  auto m = ParseMethod(method);
  if (!m) return Status::InvalidArgument("config.method '" + method + "' is not one of allgather, alltoall");
  if (pass != "forward" && pass != "backward")
    return Status::InvalidArgument("config.pass '" + pass + "' is not one of forward, backward");
  cfg->sharding = *s;
  cfg->method = *m;
  cfg->pass = pass == "forward" ? Pass::kForward : Pass::kBackward;
  // Ulysses fields are optional (files written before they existed are plain context parallelism).
  cfg->ulysses = 1;
  cfg->ring = 0;
  cfg->placement = UlyssesPlacement::kConsecutive;
  if (j.contains("ulysses")) RINGLAB_RETURN_IF_ERROR(Get(j, "ulysses", "config", &cfg->ulysses));
  if (j.contains("ring")) RINGLAB_RETURN_IF_ERROR(Get(j, "ring", "config", &cfg->ring));
  if (j.contains("placement")) {
    std::string placement;
    RINGLAB_RETURN_IF_ERROR(Get(j, "placement", "config", &placement));
    auto pl = ParsePlacement(placement);
    if (!pl) return Status::InvalidArgument("config.placement '" + placement + "' is not one of consecutive, strided");
    cfg->placement = *pl;
  }
  if (j.contains("variants") && j["variants"].is_object()) {
    // Typed reads: value("fused_merge", true) throws on a non-boolean, out of every reader of these files.
    const json& v = j["variants"];
    cfg->variants.fused_merge = true;
    cfg->variants.pack_kv = false;
    if (v.contains("fused_merge"))
      RINGLAB_RETURN_IF_ERROR(Get(v, "fused_merge", "config.variants", &cfg->variants.fused_merge));
    if (v.contains("pack_kv")) RINGLAB_RETURN_IF_ERROR(Get(v, "pack_kv", "config.variants", &cfg->variants.pack_kv));
  }
  return Status::Ok();
}

Status CheckTraceMetaNumbers(const json& m, const std::string& where) {
  const std::string reads = " (this build reads " + std::to_string(kOldestTraceFormatVersion) + " to " +
                            std::to_string(kTraceFormatVersion) + ")";
  if (!m.contains("version") || !m["version"].is_number_integer())
    return Status::InvalidArgument(where + "ringlab.version must be an integer" + reads);
  const int64_t version = m["version"].get<int64_t>();
  if (version < kOldestTraceFormatVersion || version > kTraceFormatVersion)
    return Status::InvalidArgument(where + "ringlab.version " + std::to_string(version) + reads);
  if (m.contains("schedule_op_count") &&
      !(m["schedule_op_count"].is_number_integer() && m["schedule_op_count"].get<int64_t>() >= 0))
    return Status::InvalidArgument(where + "ringlab.schedule_op_count must be a non-negative integer");
  return Status::Ok();
}

}  // namespace ringlab
