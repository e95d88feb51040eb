#include "viz/loader/trace_builder.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
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

// A pid or tid's name: its metadata name, else the string it was written as ("Spans"), else "<what> <id>".
std::string IdName(const FileEvents& fe, const std::string* meta, int64_t id, const char* what) {
  if (meta) return *meta;
  auto it = fe.id_names.find(id);
  if (it != fe.id_names.end()) return it->second;
  return std::string(what) + " " + std::to_string(id);
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
  std::string p = IdName(fe, pn != fe.process_names.end() ? &pn->second : nullptr, k.pid, "pid");
  std::string t = IdName(fe, tn != fe.thread_names.end() ? &tn->second : nullptr, k.tid, "tid");
  return "r" + std::to_string(k.rank) + " " + p + " / " + t;
}

// A ringlab file's lane is a schedule stream (0 compute, 1 comm): version 2 files draw the comm stream on several
// tracks (core/trace.h TraceTrack) so that strict readers see no overlap; the viewer nests them in one lane again.
int64_t LaneTid(const FileEvents& fe, int64_t tid) {
  if (!fe.info.ringlab || fe.info.meta.version < 2) return tid;
  return tid == kComputeTrack ? int(StreamKind::kCompute) : int(StreamKind::kComm);
}

// Which run each file belongs to. Files of one run hold disjoint ranks; a file holding a rank another file already
// holds starts a new run (separate_runs) or makes the load fail.
struct RunPlan {
  int count = 1;
  std::vector<int> run_of, rank_offset;
};

Status PlanRuns(const std::vector<FileEvents>& files, const LoadOptions& opt, RunPlan* plan) {
  const bool multi = files.size() > 1;
  plan->run_of.assign(files.size(), 0);
  plan->rank_offset.assign(files.size(), 0);
  std::vector<std::map<int, int>> holder;  // per run: rank -> file holding it
  for (int f = 0; f < int(files.size()); ++f) {
    const FileEvents& fe = files[size_t(f)];
    std::set<int> mine;
    for (auto [pid, tid] : fe.lane_keys) mine.insert(RankOf(fe, f, pid, multi));
    size_t run = 0;
    for (; run < holder.size(); ++run) {
      auto clash = std::find_if(mine.begin(), mine.end(), [&](int r) { return holder[run].count(r) > 0; });
      if (clash == mine.end()) break;
      if (opt.separate_runs) continue;
      const bool placed = !fe.has_dist_rank && !fe.info.ringlab;
      return Status::InvalidArgument(
          "trace files '" + files[size_t(holder[run][*clash])].info.path + "' and '" + fe.info.path +
          "' both hold rank " + std::to_string(*clash) +
          (placed ? " (a file without distributedInfo.rank is placed by its position)" : "") +
          ": they come from different runs or captures, and one view would mix them. Open them one at a time, side "
          "by side with --compare, or each as a run of its own with --separate-runs");
    }
    if (run == holder.size()) holder.emplace_back();
    for (int r : mine) holder[run].emplace(r, f);
    plan->run_of[size_t(f)] = int(run);
  }
  // Each run's ranks follow the previous run's highest rank. Summed in 64 bits: ranks (distributedInfo.rank up to
  // 2^24) of a hundred-odd runs overflowed int, and the later runs were drawn first under negative ranks.
  std::vector<int64_t> offset(holder.size() + 1, 0);
  for (size_t r = 0; r < holder.size(); ++r) {
    offset[r + 1] = offset[r] + (holder[r].empty() ? 0 : std::max<int64_t>(0, int64_t(holder[r].rbegin()->first) + 1));
    if (offset[r + 1] - 1 > std::numeric_limits<int32_t>::max())
      return Status::InvalidArgument(
          "trace file '" + files[size_t(holder[r].rbegin()->second)].info.path + "': with the runs before it, run " +
          std::to_string(r + 1) + "'s ranks go past " + std::to_string(std::numeric_limits<int32_t>::max()) +
          " (each run's ranks follow the previous run's highest rank); open fewer runs at a time");
  }
  for (size_t f = 0; f < files.size(); ++f) plan->rank_offset[f] = int(offset[size_t(plan->run_of[f])]);
  plan->count = std::max<int>(1, int(holder.size()));
  return Status::Ok();
}

// Fills m->lanes in (rank, file, pid, tid) order; returns, per file, the model lane of each of its lanes.
std::vector<std::vector<uint32_t>> BuildLanes(const std::vector<FileEvents>& files, const RunPlan& runs,
                                              TraceModel* m) {
  std::vector<FileLane> keys;
  const bool multi = files.size() > 1;
  for (int f = 0; f < int(files.size()); ++f) {
    const FileEvents& fe = files[f];
    for (uint32_t l = 0; l < fe.lane_keys.size(); ++l) {
      auto [pid, tid] = fe.lane_keys[l];
      keys.push_back({RankOf(fe, f, pid, multi) + runs.rank_offset[size_t(f)], f, pid, LaneTid(fe, tid), l});
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
    if (runs.count > 1) lane.name = "run " + std::to_string(runs.run_of[size_t(k.file)] + 1) + " " + lane.name;
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

// The slice a flow point binds to: the deepest slice of its lane around ts (enclosing), else the first slice starting
// at or after ts; -1 when there is none.
int64_t BindPoint(const TraceModel& m, uint32_t lane, const FlowPoint& p) {
  const Lane& l = m.lanes[lane];
  constexpr double kEps = 1e-6;  // ts and dur are rounded decimals
  if (p.enclosing) {
    // The deepest slice open at ts (a slice ending exactly at ts only when none starts there), the later on a tie.
    int64_t best = -1;
    bool best_open = false;
    for (uint32_t i = m.FirstVisible(int(lane), p.ts - kEps); i < l.end && m.events[i].ts <= p.ts + kEps; ++i) {
      const Event& e = m.events[i];
      if (e.End() < p.ts - kEps) continue;
      const bool open = e.End() > p.ts + kEps || e.dur == 0;
      if (best < 0 || open > best_open || (open == best_open && e.depth >= m.events[size_t(best)].depth))
        best = i, best_open = open;
    }
    if (best >= 0 || p.ph != 'f') return best;
  }
  auto b = m.events.begin() + l.begin, e = m.events.begin() + l.end;
  auto it = std::lower_bound(b, e, p.ts - 1e-6, [](const Event& x, double t) { return x.ts < t; });
  return it == e ? -1 : int64_t(it - m.events.begin());
}

// Joins each file's flow points by id in file order (s, then t..., then f): one Flow per consecutive pair.
void BindFlows(const std::vector<FileEvents>& files, const std::vector<std::vector<uint32_t>>& global_lane,
               TraceModel* m) {
  for (size_t f = 0; f < files.size(); ++f) {
    std::unordered_map<uint64_t, int64_t> open;  // id -> event of the flow's last point
    for (const FlowPoint& p : files[f].extras.flows) {
      const int64_t ev = BindPoint(*m, global_lane[f][p.lane], p);
      if (p.ph == 's') {
        if (ev >= 0) open[p.id] = ev;
        continue;
      }
      auto it = open.find(p.id);
      if (it == open.end()) continue;  // a step or end without a start: Chrome drops it too
      if (ev >= 0 && ev != it->second) m->flows.push_back({uint32_t(it->second), uint32_t(ev)});
      if (p.ph == 'f') open.erase(it);
      else if (ev >= 0) it->second = ev;
    }
  }
}

// Counter series per (file, pid, name), samples sorted by time, under the rank their pid maps to.
void BuildCounters(const std::vector<FileEvents>& files, const RunPlan& runs, TraceModel* m) {
  const bool multi = files.size() > 1;
  for (size_t f = 0; f < files.size(); ++f) {
    const FileExtras& x = files[f].extras;
    const size_t first = m->counters.size();
    for (const CounterKey& k : x.counter_keys) {
      CounterTrack t;
      t.file = int(f);
      t.pid = k.pid;
      t.rank = RankOf(files[f], int(f), k.pid, multi) + runs.rank_offset[f];
      t.name = k.name;
      m->counters.push_back(std::move(t));
    }
    std::vector<std::vector<std::pair<double, double>>> samples(x.counter_keys.size());
    for (const CounterSample& c : x.counters) samples[c.series].push_back({c.ts, c.value});
    for (size_t i = 0; i < samples.size(); ++i) {
      std::stable_sort(samples[i].begin(), samples[i].end(), [](auto& a, auto& b) { return a.first < b.first; });
      CounterTrack& t = m->counters[first + i];
      for (auto [ts, v] : samples[i]) t.ts.push_back(ts), t.value.push_back(v);
      if (!t.value.empty()) {
        t.vmin = std::min(0.0, *std::min_element(t.value.begin(), t.value.end()));
        t.vmax = *std::max_element(t.value.begin(), t.value.end());
      }
    }
  }
  std::stable_sort(m->counters.begin(), m->counters.end(), [](const CounterTrack& a, const CounterTrack& b) {
    return std::tie(a.rank, a.file, a.pid, a.name) < std::tie(b.rank, b.file, b.pid, b.name);
  });
}

// Puts every file's events on one clock: relative to the smallest of the files' origins (file_events.h).
void ShareOrigin(std::vector<FileEvents>& files, TraceModel* m) {
  bool any = false;
  for (const FileEvents& fe : files)
    if (!fe.events.empty()) m->ts_origin = any ? std::min(m->ts_origin, fe.ts_origin) : fe.ts_origin, any = true;
  for (FileEvents& fe : files) {
    const double shift = double(__int128(fe.ts_origin) - m->ts_origin);
    if (shift == 0) continue;
    for (Event& e : fe.events) e.ts += shift;
    for (FlowPoint& p : fe.extras.flows) p.ts += shift;
    for (CounterSample& c : fe.extras.counters) c.ts += shift;
  }
}

}  // namespace

void CanonicalOrder(FileEvents* fe) {
  const size_t lanes = fe->lane_keys.size();
  std::vector<uint32_t> order(lanes), renum(lanes);
  for (uint32_t l = 0; l < lanes; ++l) order[l] = l;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return fe->lane_keys[a] < fe->lane_keys[b]; });
  std::vector<LaneKey> keys(lanes);
  for (uint32_t r = 0; r < lanes; ++r) renum[order[r]] = r, keys[r] = fe->lane_keys[order[r]];
  fe->lane_keys = std::move(keys);
  for (FlowPoint& p : fe->extras.flows) p.lane = renum[p.lane];
  // Counting sort by the new lane numbers (stable), then each lane by time where it is not already.
  std::vector<size_t> start(lanes + 1, 0);
  bool grouped = true;
  for (size_t i = 0; i < fe->events.size(); ++i) {
    Event& e = fe->events[i];
    e.lane = renum[e.lane];
    ++start[e.lane + 1];
    if (i && fe->events[i - 1].lane > e.lane) grouped = false;
  }
  for (size_t l = 1; l <= lanes; ++l) start[l] += start[l - 1];
  if (!grouped) {
    std::vector<Event> sorted(fe->events.size());
    std::vector<size_t> pos(start.begin(), start.end() - 1);
    for (const Event& e : fe->events) sorted[pos[e.lane]++] = e;
    fe->events = std::move(sorted);
  }
  auto less = [](const Event& x, const Event& y) { return x.ts < y.ts || (x.ts == y.ts && x.dur > y.dur); };
  for (size_t l = 0; l < lanes; ++l) {
    auto b = fe->events.begin() + ptrdiff_t(start[l]), e = fe->events.begin() + ptrdiff_t(start[l + 1]);
    if (!std::is_sorted(b, e, less)) std::stable_sort(b, e, less);
  }
}

Status BuildModel(std::vector<FileEvents>& files, std::vector<std::string> names, TraceModel* out,
                  const LoadOptions& opt) {
  RunPlan runs;
  RINGLAB_RETURN_IF_ERROR(PlanRuns(files, opt, &runs));
  TraceModel m;
  m.names = std::move(names);
  ShareOrigin(files, &m);
  const std::vector<std::vector<uint32_t>> global_lane = BuildLanes(files, runs, &m);
  GroupEventsByLane(files, global_lane, &m);
  SortAndNestLanes(&m);
  for (const Lane& l : m.lanes)
    if (m.ranks.empty() || m.ranks.back() != l.rank) m.ranks.push_back(l.rank);
  BuildOpIndex(files, &m);
  BindFlows(files, global_lane, &m);
  BuildCounters(files, runs, &m);
  for (auto& fe : files) m.files.push_back(std::move(fe.info));
  *out = std::move(m);
  return Status::Ok();
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
  (void)loader::BuildModel(files, names.TakeNames(), out);  // one file: no runs to tell apart, cannot fail
}

}  // namespace ringlab::viz
