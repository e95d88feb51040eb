#include "core/trace.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/config_json.h"
#include "core/output_file.h"

namespace ringlab {

using nlohmann::json;

TraceEvent EventFor(int rank, const Op& op) {
  TraceEvent e;
  e.rank = rank;
  e.stream = int(op.stream);
  e.op = op.id;
  e.kind = op.kind;
  e.step = op.step;
  e.peer = op.peer;
  e.tag = op.tag;
  e.bytes = op.bytes;
  e.flops = op.flops;
  return e;
}

std::string_view TraceTrackName(int track) {
  switch (track) {
    case kComputeTrack:
      return "compute";
    case kSendTrack:
      return "comm send";
    case kRecvTrack:
      return "comm recv";
    case kCollectiveTrack:
      return "comm collective";
  }
  return "unknown";
}

int TraceTrackOf(const TraceEvent& e) {
  if (e.stream == int(StreamKind::kCompute)) return kComputeTrack;
  if (e.kind == OpKind::kSend) return kSendTrack;
  if (e.kind == OpKind::kRecv) return kRecvTrack;
  return kCollectiveTrack;
}

std::string EventName(const TraceEvent& e) {
  std::string s = std::string(OpKindName(e.kind)) + " step " + std::to_string(e.step);
  if (e.kind == OpKind::kSend) s += " -> " + std::to_string(e.peer);
  if (e.kind == OpKind::kRecv) s += " <- " + std::to_string(e.peer);
  return s;
}

namespace {

// obj[key] as a JSON integer in [lo, hi], else an error naming the field ("<at>.<key> 4294967296 is not <what> in
// lo..hi"). nlohmann's get<int32_t>() would narrow 2^32 + 1 to 1 and read 1.5 or true as 1.
Status IntegerField(const json& obj, const char* key, const std::string& at, int64_t lo, int64_t hi, int64_t* out,
                    const char* what) {
  if (!obj.contains(key)) return Status::InvalidArgument(at + "." + key + " is missing");
  const json& v = obj[key];
  const bool whole = v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX));
  if (!whole || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    return Status::InvalidArgument(at + "." + key + " " + v.dump() + " is not " + what + " in " + std::to_string(lo) +
                                   ".." + std::to_string(hi));
  *out = v.get<int64_t>();
  return Status::Ok();
}

}  // namespace

Status ReadTraceJson(const std::string& path, Trace* trace) {
  std::ifstream f(path);
  if (!f) return Status::InvalidArgument("cannot open trace file '" + path + "'");
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    return Status::InvalidArgument("trace file '" + path + "' is not valid JSON: " + e.what());
  }
  const std::string where = "trace file '" + path + "': ";
  if (!j.is_object() || !j.contains("traceEvents") || !j["traceEvents"].is_array())
    return Status::InvalidArgument(where + "traceEvents is missing or not an array");
  if (!j.contains("ringlab") || !j["ringlab"].is_object())
    return Status::InvalidArgument(where + "ringlab metadata object is missing (not a ringlab trace)");
  const json& m = j["ringlab"];
  Trace t;
  // Whole numbers only: get<int>() would read version 2.5 or 4294967298 as 2.
  if (!m.contains("version") || !m["version"].is_number_integer() ||
      m["version"].get<int64_t>() != int64_t(int(m["version"].get<int64_t>())))
    return Status::InvalidArgument(where + "ringlab.version must be an integer (this build reads " +
                                   std::to_string(kOldestTraceFormatVersion) + " to " +
                                   std::to_string(kTraceFormatVersion) + ")");
  if (m.contains("schedule_op_count") &&
      !(m["schedule_op_count"].is_number_integer() && m["schedule_op_count"].get<int64_t>() >= 0))
    return Status::InvalidArgument(where + "ringlab.schedule_op_count must be a non-negative integer");
  try {
    t.meta.version = m.at("version").get<int>();
    t.meta.source = m.at("source").get<std::string>();
    t.meta.hardware = m.value("hardware", "");
    t.meta.schedule_op_count = m.value("schedule_op_count", int64_t(0));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(where + "ringlab.version/source: " + e.what());
  }
  if (t.meta.version < kOldestTraceFormatVersion || t.meta.version > kTraceFormatVersion)
    return Status::InvalidArgument(where + "ringlab.version " + std::to_string(t.meta.version) + " (this build reads " +
                                   std::to_string(kOldestTraceFormatVersion) + " to " +
                                   std::to_string(kTraceFormatVersion) + ")");
  RINGLAB_RETURN_IF_ERROR(FromJson(m, &t.meta.config));
  const auto& evs = j["traceEvents"];
  t.events.reserve(evs.size());
  for (size_t i = 0; i < evs.size(); ++i) {
    const json& e = evs[i];
    const std::string at = where + "traceEvents[" + std::to_string(i) + "]";
    if (!e.is_object()) continue;
    if (e.contains("ph") && !e["ph"].is_string()) return Status::InvalidArgument(at + ".ph must be a string");
    if (e.value("ph", "") != "X") continue;
    TraceEvent ev;
    // Track to stream: version 2 has compute on tid 1 and the comm stream split over tids 2..4; version 1 wrote
    // tid 0 compute, 1 comm.
    const int64_t compute_tid = t.meta.version >= 2 ? kComputeTrack : 0;
    const int64_t last_tid = t.meta.version >= 2 ? kLastTraceTrack : 1;
    constexpr int64_t kI32 = std::numeric_limits<int32_t>::max();
    int64_t pid = 0, tid = 0, op = 0, step = 0, peer = -1, tag = -1;
    RINGLAB_RETURN_IF_ERROR(IntegerField(e, "pid", at, 0, int64_t(t.meta.config.world) - 1, &pid, "a rank"));
    RINGLAB_RETURN_IF_ERROR(IntegerField(e, "tid", at, compute_tid, last_tid, &tid, "a track"));
    ev.rank = int32_t(pid);
    ev.stream = tid == compute_tid ? int(StreamKind::kCompute) : int(StreamKind::kComm);
    try {
      ev.ts_us = e.at("ts").get<double>();
      ev.dur_us = e.at("dur").get<double>();
      const std::string cat = e.at("cat").get<std::string>();
      auto kind = ParseOpKind(cat);
      if (!kind) return Status::InvalidArgument(at + ".cat '" + cat + "' is not an op kind");
      ev.kind = *kind;
      const json& a = e.at("args");
      if (!a.is_object()) return Status::InvalidArgument(at + ".args must be an object");
      const std::string aat = at + ".args";
      RINGLAB_RETURN_IF_ERROR(IntegerField(a, "op", aat, -1, kI32, &op, "an op id"));
      if (a.contains("step")) RINGLAB_RETURN_IF_ERROR(IntegerField(a, "step", aat, -1, kI32, &step, "a step"));
      if (a.contains("peer")) RINGLAB_RETURN_IF_ERROR(IntegerField(a, "peer", aat, -1, kI32, &peer, "a rank or -1"));
      if (a.contains("tag")) RINGLAB_RETURN_IF_ERROR(IntegerField(a, "tag", aat, -1, kI32, &tag, "a tag or -1"));
      if (a.contains("bytes"))
        RINGLAB_RETURN_IF_ERROR(IntegerField(a, "bytes", aat, 0, std::numeric_limits<int64_t>::max(), &ev.bytes,
                                             "a byte count"));
      ev.op = int32_t(op), ev.step = int32_t(step), ev.peer = int32_t(peer), ev.tag = int32_t(tag);
      ev.flops = a.value("flops", 0.0);
      if (!(ev.flops >= 0)) return Status::InvalidArgument(aat + ".flops " + a["flops"].dump() + " is negative");
    } catch (const json::exception& ex) {
      return Status::InvalidArgument(at + ": " + ex.what());
    }
    if (!std::isfinite(ev.ts_us) || !std::isfinite(ev.dur_us) || ev.dur_us < 0)
      return Status::InvalidArgument(at + " has a non-finite or negative ts/dur");
    t.events.push_back(ev);
  }
  *trace = std::move(t);
  return Status::Ok();
}

}  // namespace ringlab
