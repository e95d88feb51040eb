// WriteTraceJson: the Chrome Trace Event JSON that core/trace.h describes, written event by event (a million-event
// trace should not need a second copy as a json tree).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "core/config_json.h"
#include "core/output_file.h"
#include "core/trace.h"
#include "core/trace_flows.h"

namespace ringlab {
namespace {

using nlohmann::json;

// An event's start and end in whole nanoseconds. Rounding both ends (not ts and dur apart) keeps ops that touch from
// overlapping and nested ops nested; a non-finite time (never written by our producers) becomes 0.
struct NsSpan {
  int64_t start = 0, end = 0;
};

// Via whole picoseconds: the simulator's times are whole ps, and an op's end (ts + dur, summed in floating point) must
// round like the next op's start even when both fall on a half nanosecond (x.500 ns): snapping to the ps first makes the
// two equal before the half is rounded (away from zero).
int64_t RoundNs(double us) {
  if (!std::isfinite(us)) return 0;
  const int64_t ps = std::llround(us * 1e6);
  return ps >= 0 ? (ps + 500) / 1000 : -((-ps + 500) / 1000);
}

NsSpan SpanOf(const TraceEvent& e) {
  const int64_t start = RoundNs(e.ts_us);
  return {start, std::max(start, RoundNs(e.ts_us + e.dur_us))};
}

// Nanoseconds as microseconds with exactly three decimals, so a reader's ts + dur is our end to the nanosecond.
std::string Micros(int64_t ns) {
  char buf[32];
  const uint64_t a = ns < 0 ? uint64_t(-ns) : uint64_t(ns);
  snprintf(buf, sizeof buf, "%s%llu.%03llu", ns < 0 ? "-" : "", (unsigned long long)(a / 1000),
           (unsigned long long)(a % 1000));
  return buf;
}

json MetaJson(const TraceMeta& m) {
  const ScheduleConfig& c = m.config;
  return json{{"version", kTraceFormatVersion},
              {"source", m.source},
              {"problem", ToJson(c.problem)},
              {"method", std::string(MethodName(c.method))},
              {"sharding", std::string(ShardingName(c.sharding))},
              {"pass", std::string(PassName(c.pass))},
              {"world", c.world},
              {"variants", {{"fused_merge", c.variants.fused_merge}, {"pack_kv", c.variants.pack_kv}}},
              {"ulysses", c.ulysses},
              {"ring", c.world / std::max(c.ulysses, 1)},
              {"placement", std::string(PlacementName(c.placement))},
              {"hardware", m.hardware},
              {"schedule_op_count", m.schedule_op_count}};
}

// Event indices in (rank, track, start, longest first) order: each track's events together, parents before children.
std::vector<size_t> TrackOrder(const Trace& trace, const std::vector<NsSpan>& span) {
  std::vector<size_t> order(trace.events.size());
  std::iota(order.begin(), order.end(), size_t(0));
  auto key = [&](size_t i) {
    const TraceEvent& e = trace.events[i];
    return std::make_tuple(e.rank, TraceTrackOf(e), span[i].start, -span[i].end, e.op);
  };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  return order;
}

class JsonEventList {
 public:
  explicit JsonEventList(std::ostream& out) : out_(out) {}
  std::ostream& Next() {
    if (!first_) out_ << ",\n";
    first_ = false;
    return out_;
  }

 private:
  std::ostream& out_;
  bool first_ = true;
};

// Names the processes of the ranks present and the threads of the tracks present, nothing else.
void WriteMetadata(const Trace& trace, const std::vector<size_t>& order, JsonEventList& list) {
  int last_rank = -1, last_track = -1;
  for (size_t i : order) {
    const TraceEvent& e = trace.events[i];
    const int track = TraceTrackOf(e);
    if (e.rank != last_rank) {
      list.Next() << "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":" << e.rank << ",\"args\":{\"name\":\"rank "
                  << e.rank << "\"}}";
      list.Next() << "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":" << e.rank
                  << ",\"args\":{\"sort_index\":" << e.rank << "}}";
      last_track = -1;
    }
    if (e.rank != last_rank || track != last_track) {
      list.Next() << "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":" << e.rank << ",\"tid\":" << track
                  << ",\"args\":{\"name\":\"" << TraceTrackName(track) << "\"}}";
      list.Next() << "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":" << e.rank << ",\"tid\":" << track
                  << ",\"args\":{\"sort_index\":" << track << "}}";
    }
    last_rank = e.rank;
    last_track = track;
  }
}

void WriteCompleteEvents(const Trace& trace, const std::vector<size_t>& order, const std::vector<NsSpan>& span,
                         JsonEventList& list) {
  char buf[512];
  for (size_t i : order) {
    const TraceEvent& e = trace.events[i];
    snprintf(buf, sizeof buf,
             "{\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"name\":\"%s\",\"cat\":\"%s\",\"ts\":%s,\"dur\":%s,"
             "\"args\":{\"op\":%d,\"step\":%d,\"bytes\":%lld,\"flops\":%.17g,\"peer\":%d,\"tag\":%d}}",
             e.rank, TraceTrackOf(e), EventName(e).c_str(), std::string(OpKindName(e.kind)).c_str(),
             Micros(span[i].start).c_str(), Micros(span[i].end - span[i].start).c_str(), e.op, e.step,
             (long long)e.bytes, e.flops, e.peer, e.tag);
    list.Next() << buf;
  }
}

// One flow per message: "s" inside the sending op at its start, "f" (binding to the enclosing slice) inside the
// receiving op at the first instant it overlaps the send, or its start, or its last nanosecond when it ended before
// the send began (clock skew between measured ranks): so the arrow never points back in time where it can help it.
void WriteFlows(const Trace& trace, const std::vector<NsSpan>& span, JsonEventList& list) {
  int64_t id = 0;
  for (const TraceFlow& f : MessageFlows(trace)) {
    const TraceEvent& from = trace.events[f.from];
    const TraceEvent& to = trace.events[f.to];
    const NsSpan s = span[f.from], r = span[f.to];
    const int64_t s_ts = s.start;
    const int64_t f_ts = std::clamp(s_ts, r.start, std::max(r.start, r.end - 1));
    ++id;
    list.Next() << "{\"ph\":\"s\",\"id\":" << id << ",\"pid\":" << from.rank << ",\"tid\":" << TraceTrackOf(from)
                << ",\"ts\":" << Micros(s_ts) << ",\"name\":\"message\",\"cat\":\"flow\"}";
    list.Next() << "{\"ph\":\"f\",\"bp\":\"e\",\"id\":" << id << ",\"pid\":" << to.rank
                << ",\"tid\":" << TraceTrackOf(to) << ",\"ts\":" << Micros(f_ts)
                << ",\"name\":\"message\",\"cat\":\"flow\"}";
  }
}

}  // namespace

Status WriteTraceJson(const Trace& trace, const std::string& path) {
  OutputBatch batch;
  std::ostream* f = nullptr;
  RINGLAB_RETURN_IF_ERROR(batch.Open(path, &f));
  WriteTraceJson(trace, *f);
  return batch.Commit();
}

void WriteTraceJson(const Trace& trace, std::ostream& f) {
  std::vector<NsSpan> span(trace.events.size());
  for (size_t i = 0; i < span.size(); ++i) span[i] = SpanOf(trace.events[i]);
  const std::vector<size_t> order = TrackOrder(trace, span);
  f << "{\"displayTimeUnit\":\"ns\",\"ringlab\":" << MetaJson(trace.meta).dump() << ",\n\"traceEvents\":[\n";
  JsonEventList list(f);
  WriteMetadata(trace, order, list);
  WriteCompleteEvents(trace, order, span, list);
  WriteFlows(trace, span, list);
  f << "\n]}\n";
}

}  // namespace ringlab
