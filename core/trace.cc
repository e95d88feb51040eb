#include "core/trace.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/config_json.h"
#include "core/input_file.h"
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
  if (!whole && lo == std::numeric_limits<int64_t>::min())
    return Status::InvalidArgument(at + "." + key + " " + v.dump() + " is not " + what);
  if (!whole || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
    return Status::InvalidArgument(at + "." + key + " " + v.dump() + " is not " + what + " in " + std::to_string(lo) +
                                   ".." + std::to_string(hi));
  *out = v.get<int64_t>();
  return Status::Ok();
}

// One traceEvents element: *is_x when it is a complete event, read into p with everything checked that needs no
// metadata. Its rank and track are checked by ReadTraceJson once the ringlab object (which may follow) is read.
struct PendingEvent {
  TraceEvent ev;
  int64_t pid = 0, tid = 0;
  size_t index = 0;  // in traceEvents
};

Status ReadEvent(const json& e, const std::string& at, PendingEvent* p, bool* is_x) {
  *is_x = false;
  if (!e.is_object()) return Status::Ok();
  if (e.contains("ph") && !e["ph"].is_string()) return Status::InvalidArgument(at + ".ph must be a string");
  if (e.value("ph", "") != "X") return Status::Ok();
  TraceEvent& ev = p->ev;
  constexpr int64_t kI32 = std::numeric_limits<int32_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min(), kMax = std::numeric_limits<int64_t>::max();
  int64_t op = 0, step = 0, peer = -1, tag = -1;
  RINGLAB_RETURN_IF_ERROR(IntegerField(e, "pid", at, kMin, kMax, &p->pid, "an integer"));
  RINGLAB_RETURN_IF_ERROR(IntegerField(e, "tid", at, kMin, kMax, &p->tid, "an integer"));
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
      RINGLAB_RETURN_IF_ERROR(IntegerField(a, "bytes", aat, 0, kMax, &ev.bytes, "a byte count"));
    ev.op = int32_t(op), ev.step = int32_t(step), ev.peer = int32_t(peer), ev.tag = int32_t(tag);
    ev.flops = a.value("flops", 0.0);
    if (!(ev.flops >= 0)) return Status::InvalidArgument(aat + ".flops " + a["flops"].dump() + " is negative");
  } catch (const json::exception& ex) {
    return Status::InvalidArgument(at + ": " + ex.what());
  }
  if (!std::isfinite(ev.ts_us) || !std::isfinite(ev.dur_us) || ev.dur_us < 0)
    return Status::InvalidArgument(at + " has a non-finite or negative ts/dur");
  *is_x = true;
  return Status::Ok();
}

}  // namespace

Status ReadTraceJson(const std::string& path, Trace* trace) {
  // InputStream, not an ifstream: its open waited for ever on a fifo without a writer, and a directory or /dev/zero
  // was parsed (an empty document, or zeros without end) instead of refused.
  InputStream f;
  if (Status st = f.Open(path); !st.ok())
    return Status::InvalidArgument("cannot open trace file '" + path + "': " + st.message());
  const std::string where = "trace file '" + path + "': ";
  // Events are read as the parser meets them and dropped from the document (the callback returns false), so memory
  // is the events' TraceEvents, not a DOM of the whole file (about ten times its size: 5.6 GB for a 530 MB trace).
  std::vector<PendingEvent> pending;
  Status event_error = Status::Ok();  // the first, returned after the file's shape and metadata are checked
  std::string top_key;
  size_t index = 0;
  int event_arrays = 0;
  auto on_event = [&](int depth, json::parse_event_t what, json& parsed) -> bool {
    if (depth == 1 && what == json::parse_event_t::key) {
      top_key = parsed.get<std::string>();
      return true;
    }
    if (top_key != "traceEvents") return true;
    if (depth == 1 && what == json::parse_event_t::array_start && ++event_arrays > 1 && event_error.ok())
      event_error = Status::InvalidArgument(where + "traceEvents appears twice");
    if (depth != 2 || (what != json::parse_event_t::object_end && what != json::parse_event_t::array_end &&
                       what != json::parse_event_t::value))
      return true;
    if (!event_error.ok()) return false;  // past the first error: only the rest of the file's syntax is read
    PendingEvent p;
    bool is_x = false;
    p.index = index++;
    event_error = ReadEvent(parsed, where + "traceEvents[" + std::to_string(p.index) + "]", &p, &is_x);
    if (is_x && event_error.ok()) pending.push_back(std::move(p));
    return false;
  };
  json j;
  std::string parse_error;
  try {
    j = json::parse(f, on_event);
  } catch (const json::exception& e) {
    parse_error = e.what();
  }
  // A failed read ends the stream early: that, not the JSON's "unexpected end" it leads to, is the error.
  if (Status st = f.status(); !st.ok())
    return Status::InvalidArgument("cannot read trace file '" + path + "': " + st.message());
  if (!parse_error.empty()) return Status::InvalidArgument("trace file '" + path + "' is not valid JSON: " + parse_error);
  if (!j.is_object() || !j.contains("traceEvents") || !j["traceEvents"].is_array())
    return Status::InvalidArgument(where + "traceEvents is missing or not an array");
  if (!j.contains("ringlab") || !j["ringlab"].is_object())
    return Status::InvalidArgument(where + "ringlab metadata object is missing (not a ringlab trace)");
  const json& m = j["ringlab"];
  Trace t;
  RINGLAB_RETURN_IF_ERROR(CheckTraceMetaNumbers(m, where));
  try {
    t.meta.version = m.at("version").get<int>();
    t.meta.source = m.at("source").get<std::string>();
    t.meta.hardware = m.value("hardware", "");
    t.meta.schedule_op_count = m.value("schedule_op_count", int64_t(0));
  } catch (const json::exception& e) {
    return Status::InvalidArgument(where + "ringlab.version/source: " + e.what());
  }
  RINGLAB_RETURN_IF_ERROR(FromJson(m, &t.meta.config));
  RINGLAB_RETURN_IF_ERROR(event_error);
  // Track to stream: version 2 has compute on tid 1 and the comm stream split over tids 2..4; version 1 wrote
  // tid 0 compute, 1 comm.
  const int64_t compute_tid = t.meta.version >= 2 ? kComputeTrack : 0;
  const int64_t last_tid = t.meta.version >= 2 ? kLastTraceTrack : 1;
  t.events.reserve(pending.size());
  for (PendingEvent& p : pending) {
    const auto at = [&] { return where + "traceEvents[" + std::to_string(p.index) + "]"; };
    if (p.pid < 0 || p.pid >= t.meta.config.world)
      return Status::InvalidArgument(at() + ".pid " + std::to_string(p.pid) + " is not a rank in 0.." +
                                     std::to_string(t.meta.config.world - 1));
    if (p.tid < compute_tid || p.tid > last_tid)
      return Status::InvalidArgument(at() + ".tid " + std::to_string(p.tid) + " is not a track in " +
                                     std::to_string(compute_tid) + ".." + std::to_string(last_tid));
    p.ev.rank = int32_t(p.pid);
    p.ev.stream = p.tid == compute_tid ? int(StreamKind::kCompute) : int(StreamKind::kComm);
    t.events.push_back(p.ev);
  }
  // (rank, args.op) is an op's identity: an op written twice would count its flops and bytes twice in the summary.
  // Sorted keys, 8 bytes an event.
  std::vector<uint64_t> keys;
  keys.reserve(t.events.size());
  for (const TraceEvent& e : t.events)
    if (e.op >= 0) keys.push_back(uint64_t(uint32_t(e.rank)) << 32 | uint32_t(e.op));
  std::sort(keys.begin(), keys.end());
  if (auto d = std::adjacent_find(keys.begin(), keys.end()); d != keys.end()) {
    const int64_t rank = int64_t(*d >> 32), op = int64_t(*d & UINT32_MAX);
    std::vector<size_t> at;
    for (const PendingEvent& p : pending)
      if (p.pid == rank && p.ev.op == op) at.push_back(p.index);
    return Status::InvalidArgument(where + "traceEvents[" + std::to_string(at[0]) + "] and traceEvents[" +
                                   std::to_string(at[1]) + "] are both op " + std::to_string(op) + " of rank " +
                                   std::to_string(rank) + " ((rank, args.op) is an op's identity: each is written "
                                   "once)");
  }
  *trace = std::move(t);
  return Status::Ok();
}

}  // namespace ringlab
