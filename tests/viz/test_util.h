// Helpers for the viewer tests: small hand-made traces.
#pragma once

#include <string>
#include <vector>

#include "core/trace.h"
#include "viz/model.h"

namespace ringlab::viz::testing {

inline TraceEvent Ev(int rank, int stream, int op, OpKind kind, double ts, double dur, int step = 0, int peer = -1,
                     int64_t bytes = 0, double flops = 0) {
  TraceEvent e;
  e.rank = rank, e.stream = stream, e.op = op, e.kind = kind, e.ts_us = ts, e.dur_us = dur, e.step = step;
  e.peer = peer, e.bytes = bytes, e.flops = flops;
  return e;
}

// Two ranks. rank 0: compute [0,10) [12,20); comm [5,15). rank 1: compute [0,4); comm [2,8) [9,10).
inline Trace HandTrace() {
  Trace t;
  t.meta.source = "sim";
  t.meta.config.world = 2;
  t.events = {Ev(0, 0, 0, OpKind::kAttend, 0, 10, 0, -1, 100, 1e9), Ev(0, 0, 2, OpKind::kAttend, 12, 8, 1),
              Ev(0, 1, 1, OpKind::kSend, 5, 10, 0, 1, 1000),     Ev(1, 0, 0, OpKind::kAttend, 0, 4),
              Ev(1, 1, 1, OpKind::kRecv, 2, 6, 0, 0, 1000),      Ev(1, 1, 2, OpKind::kSend, 9, 1, 1, 0)};
  return t;
}

inline std::string TempPath(const std::string& name) {
  return std::string(::testing::TempDir()) + "/" + name;
}

}  // namespace ringlab::viz::testing
