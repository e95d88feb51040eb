// CPU executor: runs any Schedule over W ranks as threads (one per rank and stream), with in-memory mailboxes for
// send/recv and a rendezvous for collectives, in float32 or float64. It is the numerics oracle for every schedule:
// sharded results, unsharded, must equal full attention from the float64 reference.
//
//   GlobalInputs in = RandomInputs(problem, /*seed=*/1);
//   ForwardOutputs fwd;
//   Status s = ExecuteForward(schedule, in, Precision::kFloat64, &fwd, &trace);
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/schedule.h"
#include "core/status.h"
#include "core/trace.h"

namespace ringlab::cpu {

enum class Precision { kFloat32, kFloat64 };

// Unsharded tensors in float64: q, dout [B][H][S][D]; k, v [B][Hkv][S][D].
struct GlobalInputs {
  std::vector<double> q, k, v, dout;
};
// Unsharded results: out [B][H][S][D], lse [B][H][S]; dq like q, dk and dv like k.
struct ForwardOutputs {
  std::vector<double> out, lse;
};
struct BackwardOutputs {
  std::vector<double> dq, dk, dv;
};

struct ExecutorOptions {
  Precision precision = Precision::kFloat64;
  double timeout_s = 120;  // a rank waiting longer for a message or collective aborts the run with a clear message
  // Called after every op with (ops done, ops in the schedule), from the executor's threads (ringlab check's progress).
  std::function<void(int64_t, int64_t)> progress;
};

// Uniform random inputs in [-1, 1) from `seed` (never zeros).
GlobalInputs RandomInputs(const Problem& p, uint64_t seed);

// `schedule` must be a forward schedule. `trace` (optional) receives one wall-clock event per op, source "cpu".
Status ExecuteForward(const Schedule& schedule, const GlobalInputs& in, const ExecutorOptions& options,
                      ForwardOutputs* out, Trace* trace = nullptr);
// `schedule` must be a backward schedule; `fwd` is the forward's result (out, lse).
Status ExecuteBackward(const Schedule& schedule, const GlobalInputs& in, const ForwardOutputs& fwd,
                       const ExecutorOptions& options, BackwardOutputs* out, Trace* trace = nullptr);

}  // namespace ringlab::cpu
