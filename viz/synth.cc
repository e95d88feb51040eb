#include "viz/synth.h"

#include <algorithm>
#include <map>
#include <random>

namespace ringlab::viz {

Status SynthTrace(const ScheduleConfig& cfg, const SynthOptions& o, Trace* out) {
  Schedule s;
  RINGLAB_RETURN_IF_ERROR(BuildSchedule(cfg, &s));
  const int W = cfg.world;
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(-o.jitter, o.jitter);
  auto duration = [&](const Op& op) {
    double d;
    if (op.kind == OpKind::kAttend) d = o.launch_us + op.flops / (o.tflops * 1e6);
    else if (IsCommunication(op.kind)) d = o.latency_us + double(op.bytes) / (o.link_gbps * 1e3);
    else d = o.launch_us + double(op.bytes) / (o.mem_gbps * 1e3);
    return d * (1 + u(rng));
  };
  std::vector<std::vector<double>> end(static_cast<size_t>(W)), ready(static_cast<size_t>(W));
  std::vector<std::vector<char>> done(static_cast<size_t>(W));
  std::vector<std::array<std::vector<int>, kStreamCount>> queue(static_cast<size_t>(W));
  std::vector<std::array<size_t, kStreamCount>> head(static_cast<size_t>(W));
  std::vector<std::array<double, kStreamCount>> free_at(static_cast<size_t>(W));
  for (int r = 0; r < W; ++r) {
    const auto& ops = s.ranks[size_t(r)].ops;
    end[size_t(r)].assign(ops.size(), 0);
    done[size_t(r)].assign(ops.size(), 0);
    for (const Op& op : ops) queue[size_t(r)][size_t(op.stream)].push_back(op.id);
    head[size_t(r)].fill(0);
    free_at[size_t(r)].fill(0);
  }
  // Posted ops: at the head of their stream (a group counts as posted together) with all deps done.
  auto posted = [&](int r, int id, double* t) {
    const Op& op = s.ranks[size_t(r)].ops[size_t(id)];
    const auto& q = queue[size_t(r)][size_t(op.stream)];
    size_t h = head[size_t(r)][size_t(op.stream)];
    bool at_head = false;
    for (size_t k = h; k < q.size(); ++k) {
      if (done[size_t(r)][size_t(q[k])]) continue;
      if (q[k] == id) {
        at_head = true;
        break;
      }
      const Op& other = s.ranks[size_t(r)].ops[size_t(q[k])];
      if (op.group < 0 || other.group != op.group) break;
    }
    if (!at_head) return false;
    double ready_t = free_at[size_t(r)][size_t(op.stream)];
    for (int32_t d : op.deps) {
      if (!done[size_t(r)][size_t(d)]) return false;
      ready_t = std::max(ready_t, end[size_t(r)][size_t(d)]);
    }
    *t = ready_t;
    return true;
  };
  std::vector<TraceEvent> events;
  auto finish = [&](int r, int id, double start) {
    const Op& op = s.ranks[size_t(r)].ops[size_t(id)];
    TraceEvent e = EventFor(r, op);
    e.ts_us = start;
    e.dur_us = duration(op);
    end[size_t(r)][size_t(id)] = start + e.dur_us;
    done[size_t(r)][size_t(id)] = 1;
    events.push_back(e);
  };
  auto advance = [&](int r) {
    for (int st = 0; st < kStreamCount; ++st) {
      auto& q = queue[size_t(r)][size_t(st)];
      size_t& h = head[size_t(r)][size_t(st)];
      while (h < q.size() && done[size_t(r)][size_t(q[h])]) {
        free_at[size_t(r)][size_t(st)] = std::max(free_at[size_t(r)][size_t(st)], end[size_t(r)][size_t(q[h])]);
        ++h;
      }
    }
  };
  int64_t remaining = s.OpCount();
  while (remaining > 0) {
    bool progress = false;
    for (int r = 0; r < W; ++r) {
      for (int st = 0; st < kStreamCount; ++st) {
        const auto& q = queue[size_t(r)][size_t(st)];
        for (size_t k = head[size_t(r)][size_t(st)]; k < q.size(); ++k) {
          int id = q[k];
          if (done[size_t(r)][size_t(id)]) continue;
          const Op& op = s.ranks[size_t(r)].ops[size_t(id)];
          double t = 0;
          if (!posted(r, id, &t)) break;
          if (op.kind == OpKind::kSend || op.kind == OpKind::kRecv) {
            const OpKind want = op.kind == OpKind::kSend ? OpKind::kRecv : OpKind::kSend;
            int pid = -1;
            for (const Op& p : s.ranks[size_t(op.peer)].ops)
              if (p.kind == want && p.tag == op.tag && p.peer == r && !done[size_t(op.peer)][size_t(p.id)]) pid = p.id;
            double tp = 0;
            if (pid < 0 || !posted(op.peer, pid, &tp)) {
              if (op.group >= 0) continue;  // try the rest of the group
              break;
            }
            double start = std::max(t, tp);
            finish(r, id, start);
            finish(op.peer, pid, start);
            remaining -= 2;
            advance(op.peer);
          } else if (op.kind == OpKind::kAllGather || op.kind == OpKind::kReduceScatter) {
            std::vector<std::pair<int, int>> members;
            double start = t;
            bool all = true;
            for (int pr = 0; pr < W && all; ++pr) {
              int pid = -1;
              for (const Op& p : s.ranks[size_t(pr)].ops)
                if (p.kind == op.kind && p.tag == op.tag && !done[size_t(pr)][size_t(p.id)]) pid = p.id;
              double tp = 0;
              if (pid < 0 || !posted(pr, pid, &tp)) all = false;
              else members.push_back({pr, pid}), start = std::max(start, tp);
            }
            if (!all) break;
            for (auto [pr, pid] : members) finish(pr, pid, start), advance(pr);
            remaining -= int64_t(members.size());
          } else {
            finish(r, id, t);
            --remaining;
          }
          progress = true;
          advance(r);
          break;
        }
      }
    }
    if (!progress) return Status::Internal("synthetic timing stalled (schedule deadlock?)");
  }
  std::sort(events.begin(), events.end(), [](const TraceEvent& a, const TraceEvent& b) {
    return std::tie(a.rank, a.stream, a.ts_us, a.op) < std::tie(b.rank, b.stream, b.ts_us, b.op);
  });
  Trace t;
  t.meta.source = o.source;
  t.meta.config = cfg;
  t.meta.hardware = o.hardware;
  t.meta.schedule_op_count = s.OpCount();
  t.events = std::move(events);
  *out = std::move(t);
  return Status::Ok();
}

Trace RepeatTrace(const Trace& base, int copies) {
  Trace t;
  t.meta = base.meta;
  double t0 = 1e300, t1 = -1e300;
  int32_t max_op = 0;
  for (const TraceEvent& e : base.events) {
    t0 = std::min(t0, e.ts_us);
    t1 = std::max(t1, e.ts_us + e.dur_us);
    max_op = std::max(max_op, e.op);
  }
  const double period = (t1 - t0) * 1.02;
  t.events.reserve(base.events.size() * size_t(copies));
  for (int c = 0; c < copies; ++c)
    for (const TraceEvent& e : base.events) {
      TraceEvent x = e;
      x.ts_us += c * period;
      x.op = e.op + c * (max_op + 1);
      t.events.push_back(x);
    }
  t.meta.schedule_op_count = int64_t(t.events.size());
  return t;
}

}  // namespace ringlab::viz
