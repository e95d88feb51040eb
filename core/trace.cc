#include "core/trace.h"

#include <algorithm>
#include <cmath>
#include <fstream>
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
    if (!e.is_object() || e.value("ph", "") != "X") continue;
    TraceEvent ev;
    try {
      ev.rank = e.at("pid").get<int32_t>();
      // Track to stream: version 2 has compute on tid 1 and the comm stream split over tids 2..4; version 1 wrote
      // tid 0 compute, 1 comm.
      const int32_t compute_tid = t.meta.version >= 2 ? kComputeTrack : 0;
      ev.stream = e.at("tid").get<int32_t>() == compute_tid ? int(StreamKind::kCompute) : int(StreamKind::kComm);
      ev.ts_us = e.at("ts").get<double>();
      ev.dur_us = e.at("dur").get<double>();
      const std::string cat = e.at("cat").get<std::string>();
      auto kind = ParseOpKind(cat);
      if (!kind) return Status::InvalidArgument(at + ".cat '" + cat + "' is not an op kind");
      ev.kind = *kind;
      const json& a = e.at("args");
      ev.op = a.at("op").get<int32_t>();
      ev.step = a.value("step", 0);
      ev.bytes = a.value("bytes", int64_t(0));
      ev.flops = a.value("flops", 0.0);
      ev.peer = a.value("peer", -1);
      ev.tag = a.value("tag", -1);
    } catch (const json::exception& ex) {
      return Status::InvalidArgument(at + ": " + ex.what());
    }
    if (ev.rank < 0 || ev.rank >= t.meta.config.world)
      return Status::InvalidArgument(at + ".pid " + std::to_string(ev.rank) + " is not a rank in 0.." +
                                     std::to_string(t.meta.config.world - 1));
    if (!std::isfinite(ev.ts_us) || !std::isfinite(ev.dur_us) || ev.dur_us < 0)
      return Status::InvalidArgument(at + " has a non-finite or negative ts/dur");
    t.events.push_back(ev);
  }
  *trace = std::move(t);
  return Status::Ok();
}

}  // namespace ringlab
