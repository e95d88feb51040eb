#include "viz/loader/trace_builder.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

namespace ringlab::viz::loader {
namespace {

// A lane of one file, with the rank it is drawn under.
struct FileLane {
  int rank;
  int file;
  int64_t pid, tid;
  uint32_t local;  // index into the file's lane_keys
};

int RankOf(const FileEvents& fe, int file, int64_t pid, bool multi) {
  if (fe.info.ringlab) return int(pid);
  if (fe.has_dist_rank) return int(fe.dist_rank);
  if (multi) return file;
  return int(std::clamp<int64_t>(pid, INT32_MIN, INT32_MAX));
}

// "rank 3 comm" for ringlab lanes (prefixed by method and source when several runs are loaded side by side), else
// "r3 <process name> / <thread name>".
std::string LaneName(const FileEvents& fe, const FileLane& k, bool multi) {
  if (fe.info.ringlab) {
    std::string name = "rank " + std::to_string(k.rank) + " " +
                       (k.tid == 0 ? "compute" : k.tid == 1 ? "comm" : "stream " + std::to_string(k.tid));
    // Several ringlab runs side by side: say which run a lane belongs to.
    if (multi) name = std::string(MethodName(fe.info.meta.config.method)) + " " + fe.info.meta.source + " " +
                      name.substr(5);
    return name;
  }
  auto tn = fe.thread_names.find({k.pid, k.tid});
  auto pn = fe.process_names.find(k.pid);
  std::string p = pn != fe.process_names.end() ? pn->second : "pid " + std::to_string(k.pid);
  std::string t = tn != fe.thread_names.end() ? tn->second : "tid " + std::to_string(k.tid);
  return "r" + std::to_string(k.rank) + " " + p + " / " + t;
}

// A ringlab file's lane is a schedule stream (0 compute, 1 comm): version 2 files draw the comm stream on several
// tracks (core/trace.h TraceTrack) so that strict readers see no overlap; the viewer nests them in one lane again.
int64_t LaneTid(const FileEvents& fe, int64_t tid) {
  if (!fe.info.ringlab || fe.info.meta.version < 2) return tid;
  return tid == kComputeTrack ? int(StreamKind::kCompute) : int(StreamKind::kComm);
}

// Fills m->lanes in (rank, file, pid, tid) order; returns, per file, the model lane of each of its lanes.
std::vector<std::vector<uint32_t>> BuildLanes(const std::vector<FileEvents>& files, TraceModel* m) {
  std::vector<FileLane> keys;
  const bool multi = files.size() > 1;
  for (int f = 0; f < int(files.size()); ++f) {
    const FileEvents& fe = files[f];
    for (uint32_t l = 0; l < fe.lane_keys.size(); ++l) {
      auto [pid, tid] = fe.lane_keys[l];
      keys.push_back({RankOf(fe, f, pid, multi), f, pid, LaneTid(fe, tid), l});
    }
  }
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const FileLane& x = keys[a];
    const FileLane& y = keys[b];
    return std::tie(x.rank, x.file, x.pid, x.tid) < std::tie(y.rank, y.file, y.pid, y.tid);
  });
  std::vector<std::vector<uint32_t>> global_lane(files.size());
  for (size_t f = 0; f < files.size(); ++f) global_lane[f].resize(files[f].lane_keys.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const FileLane& k = keys[order[i]];
    const FileEvents& fe = files[k.file];
    const size_t gi = m->lanes.size();
    if (i > 0) {  // several tracks of one stream: one lane
      const FileLane& p = keys[order[i - 1]];
      if (std::tie(p.rank, p.file, p.pid, p.tid) == std::tie(k.rank, k.file, k.pid, k.tid)) {
        global_lane[k.file][k.local] = uint32_t(gi - 1);
        continue;
      }
    }
    Lane lane;
    lane.rank = k.rank;
    lane.file = k.file;
    lane.pid = k.pid;
    lane.tid = k.tid;
    if (fe.info.ringlab) lane.stream = int(k.tid);
    lane.name = LaneName(fe, k, multi);
    global_lane[k.file][k.local] = uint32_t(gi);
    m->lanes.push_back(std::move(lane));
  }
  return global_lane;
}

// Counting sort of the files' events into m->events by model lane, keeping file order within a lane; sets each
// lane's event range. Consumes the files' events.
void GroupEventsByLane(std::vector<FileEvents>& files, const std::vector<std::vector<uint32_t>>& global_lane,
                       TraceModel* m) {
  std::vector<uint32_t> counts(m->lanes.size() + 1, 0);
  size_t total = 0;
  for (auto& fe : files) {
    for (Event& e : fe.events) {
      e.lane = global_lane[&fe - files.data()][e.lane];
      ++counts[e.lane + 1];
    }
    total += fe.events.size();
  }
  for (size_t i = 1; i < counts.size(); ++i) counts[i] += counts[i - 1];
  for (size_t l = 0; l < m->lanes.size(); ++l) m->lanes[l].begin = counts[l], m->lanes[l].end = counts[l + 1];
  bool grouped = files.size() == 1;  // one file already in lane order (ringlab writers group by rank, stream)
  if (grouped)
    for (size_t i = 1; i < files[0].events.size() && grouped; ++i)
      grouped = files[0].events[i - 1].lane <= files[0].events[i].lane;
  if (grouped) {
    m->events = std::move(files[0].events);
  } else {
    m->events.resize(total);
    std::vector<uint32_t> pos(counts.begin(), counts.end() - 1);
    for (auto& fe : files) {
      for (const Event& e : fe.events) m->events[pos[e.lane]++] = e;
      std::vector<Event>().swap(fe.events);
    }
  }
}

// Sorts each lane by (ts, longer first), then sets nesting depths, the running max end and the model's time range.
void SortAndNestLanes(TraceModel* mp) {
  TraceModel& m = *mp;
  const size_t total = m.events.size();
  m.max_end.resize(total);
  m.t_min = total ? std::numeric_limits<double>::infinity() : 0;
  m.t_max = total ? -std::numeric_limits<double>::infinity() : 0;
  std::vector<double> stack;
  for (Lane& lane : m.lanes) {
    auto b = m.events.begin() + lane.begin, e = m.events.begin() + lane.end;
    auto less = [](const Event& x, const Event& y) { return x.ts < y.ts || (x.ts == y.ts && x.dur > y.dur); };
    if (!std::is_sorted(b, e, less)) std::stable_sort(b, e, less);
    stack.clear();
    double mx = -std::numeric_limits<double>::infinity();
    for (uint32_t i = lane.begin; i < lane.end; ++i) {
      Event& ev = m.events[i];
      // Ops that overlap by under a picosecond only touch: ts and dur are written as rounded decimals, so
      // ts + dur of one op can exceed the next op's ts by an ulp.
      constexpr double kTouchUs = 1e-6;
      while (!stack.empty() && stack.back() <= ev.ts + kTouchUs) stack.pop_back();
      ev.depth = uint8_t(std::min<size_t>(stack.size(), 15));
      lane.max_depth = std::max<int>(lane.max_depth, ev.depth);
      stack.push_back(ev.End());
      mx = std::max(mx, ev.End());
      m.max_end[i] = mx;
      m.t_min = std::min(m.t_min, ev.ts);
      m.t_max = std::max(m.t_max, ev.End());
    }
  }
}

// (rank, op) -> event index for ringlab lanes; left out for a rank whose op ids are too sparse.
void BuildOpIndex(const std::vector<FileEvents>& files, TraceModel* mp) {
  TraceModel& m = *mp;
  std::map<int, int64_t> max_op, count;
  for (const Lane& l : m.lanes) {
    if (!files[l.file].info.ringlab) continue;
    int64_t mo = -1;
    for (uint32_t i = l.begin; i < l.end; ++i) mo = std::max<int64_t>(mo, m.events[i].op);
    auto [it, ins] = max_op.try_emplace(l.rank, mo);
    if (!ins) it->second = std::max(it->second, mo);
    count[l.rank] += l.end - l.begin;
  }
  for (auto [rank, mo] : max_op) {
    if (mo < 0 || mo > 16 * count[rank] + 1024) continue;
    m.op_index[rank].assign(size_t(mo + 1), -1);
  }
  for (const Lane& l : m.lanes) {
    auto it = m.op_index.find(l.rank);
    if (it == m.op_index.end() || !files[l.file].info.ringlab) continue;
    for (uint32_t i = l.begin; i < l.end; ++i)
      if (m.events[i].op >= 0) it->second[size_t(m.events[i].op)] = int32_t(i);
  }
}

// Puts every file's events on one clock: relative to the smallest of the files' origins (file_events.h).
void ShareOrigin(std::vector<FileEvents>& files, TraceModel* m) {
  bool any = false;
  for (const FileEvents& fe : files)
    if (!fe.events.empty()) m->ts_origin = any ? std::min(m->ts_origin, fe.ts_origin) : fe.ts_origin, any = true;
  for (FileEvents& fe : files) {
    const double shift = double(__int128(fe.ts_origin) - m->ts_origin);
    if (shift != 0)
      for (Event& e : fe.events) e.ts += shift;
  }
}

}  // namespace

void BuildModel(std::vector<FileEvents>& files, std::vector<std::string> names, TraceModel* out) {
  TraceModel m;
  m.names = std::move(names);
  ShareOrigin(files, &m);
  const std::vector<std::vector<uint32_t>> global_lane = BuildLanes(files, &m);
  GroupEventsByLane(files, global_lane, &m);
  SortAndNestLanes(&m);
  for (const Lane& l : m.lanes)
    if (m.ranks.empty() || m.ranks.back() != l.rank) m.ranks.push_back(l.rank);
  BuildOpIndex(files, &m);
  for (auto& fe : files) m.files.push_back(std::move(fe.info));
  *out = std::move(m);
}

}  // namespace ringlab::viz::loader

namespace ringlab::viz {

void ModelFromTrace(const Trace& trace, TraceModel* out, const std::string& name) {
  std::vector<loader::FileEvents> files(1);
  loader::FileEvents& fe = files[0];
  fe.info.path = name;
  fe.info.ringlab = true;
  fe.info.has_config = true;
  fe.info.format = "ringlab";
  fe.info.meta = trace.meta;
  fe.info.meta.version = kTraceFormatVersion;  // lanes below are keyed by this version's tracks
  loader::Interner names;
  loader::EventSink lanes{&fe.events, &fe.lane_keys, &names};  // numbers (rank, track) lanes as a parse would
  for (const TraceEvent& t : trace.events) {
    Event e;
    e.ts = t.ts_us;
    e.dur = t.dur_us;
    e.flops = t.flops;
    e.bytes = t.bytes;
    e.op = t.op;
    e.step = t.step;
    e.peer = t.peer;
    e.kind = VizKind(t.kind);
    e.name = names.Get(EventName(t));
    e.lane = lanes.LaneOf({t.rank, TraceTrackOf(t)});  // the tracks a written file has; BuildLanes folds them
    fe.events.push_back(e);
  }
  fe.info.event_count = int64_t(fe.events.size());
  loader::BuildModel(files, names.TakeNames(), out);
}

}  // namespace ringlab::viz
