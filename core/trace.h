// The one trace format: Chrome Trace Event JSON, so every trace also opens in Perfetto and chrome://tracing.
//
//   {"traceEvents": [...], "displayTimeUnit": "ns",
//    "ringlab": {"version": 1, "source": "real"|"sim"|"cpu", "problem": {...}, "method", "sharding", "pass", "world",
//                "hardware", "schedule_op_count", "variants": {...}}}
// One complete event ("ph":"X") per executed op: pid = rank, tid = track (TraceTrack below: 1 compute, 2 comm send,
// 3 comm recv, 4 comm collective), name, cat = op kind, ts/dur in microseconds with whole nanoseconds (the writer
// rounds an op's start and end and derives dur from them, so ops that touch never overlap), args {op, step, bytes,
// flops, peer, tag}. Events of one track nest exactly or are disjoint, which strict readers (Perfetto) require: a
// grouped send and recv overlap, so each has a track of its own. Flow events ("ph":"s" on the send, "ph":"f" with
// "bp":"e" on the recv, one id per message) join each send to its recv and each all-to-all to the all-to-alls of its
// group's other members (core/trace_flows.h). Metadata events ("ph":"M") name the processes ("rank 3") and threads
// ("compute", "comm send", ...) of the ranks and tracks that have events, and no others. (rank, args.op) is the
// op's identity in the schedule, so a simulated and a measured trace of one schedule line up op by op.
// Version 1 files (tid = stream: 0 compute, 1 comm; no flows) still read.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"

namespace ringlab {

inline constexpr int kTraceFormatVersion = 2;
inline constexpr int kOldestTraceFormatVersion = 1;  // ReadTraceJson reads versions from here to kTraceFormatVersion

// The track (Chrome "tid") an event is drawn on. Comm-stream ops split by kind so that each track's events nest or
// are disjoint; the schedule stream of an event is compute for kComputeTrack and comm for the others. Track ids
// start at 1: Perfetto reads tid 0 as "the process's main thread" (tid = pid), which would merge the compute track
// of rank p with its track p.
enum TraceTrack : int { kComputeTrack = 1, kSendTrack = 2, kRecvTrack = 3, kCollectiveTrack = 4 };
inline constexpr int kFirstTraceTrack = kComputeTrack, kLastTraceTrack = kCollectiveTrack;
std::string_view TraceTrackName(int track);  // "compute", "comm send", "comm recv", "comm collective"

struct TraceMeta {
  int version = kTraceFormatVersion;
  std::string source;  // real | sim | cpu
  ScheduleConfig config;
  std::string hardware;  // card or profile name
  int64_t schedule_op_count = 0;
};

struct TraceEvent {
  int32_t rank = 0;
  int32_t stream = 0;
  int32_t op = -1;  // schedule op id on that rank
  OpKind kind = OpKind::kAttend;
  int32_t step = 0;
  int32_t peer = -1;
  int32_t tag = -1;  // send/recv matching tag, collective id (Op::tag)
  double ts_us = 0;
  double dur_us = 0;
  int64_t bytes = 0;
  double flops = 0;
};

struct Trace {
  TraceMeta meta;
  std::vector<TraceEvent> events;
};

// Makes an event for `op` of `rank` with its schedule facts filled in; the caller sets ts_us and dur_us.
TraceEvent EventFor(int rank, const Op& op);
// The track `e` is drawn on: compute ops on kComputeTrack, sends, recvs and the other comm ops on their own.
int TraceTrackOf(const TraceEvent& e);
// The event's display name: "attend step 3", "send step 0 -> 4".
std::string EventName(const TraceEvent& e);

// Writes the trace through core/output_file.h: whole or absent; "-" is stdout; errors name the file.
Status WriteTraceJson(const Trace& trace, const std::string& path);
// Streams the trace's JSON into `out` (one of an OutputBatch's outputs, for runs that commit several together).
void WriteTraceJson(const Trace& trace, std::ostream& out);
// Reads a ringlab trace; the message names the file and the offending field.
Status ReadTraceJson(const std::string& path, Trace* trace);

}  // namespace ringlab
