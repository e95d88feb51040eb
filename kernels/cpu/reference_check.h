// Runs a schedule on the CPU executor and compares the unsharded results with full attention from the float64
// reference: the body of `ringlab check` and of the executor's numerics tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/schedule.h"
#include "core/trace.h"
#include "kernels/cpu/cpu_executor.h"

namespace ringlab::cpu {

struct TensorError {
  std::string name;  // out, lse, dq, dk, dv
  double max_abs = 0;
  double relative = 0;  // ‖x − ref‖₂ / ‖ref‖₂
};

struct CheckReport {
  std::vector<TensorError> errors;
  double tolerance = 0;  // on relative error
  bool pass = false;
  Trace forward_trace, backward_trace;
};

// Default relative-error tolerance for a precision: 1e-12 in float64, 1e-5 in float32.
double DefaultTolerance(Precision p);

// `forward_config` describes the problem, world, sharding and method (its pass is ignored); with `backward` set the
// backward schedule runs too, from the forward's results. Inputs are random from `seed`. `progress` (optional) gets
// the fraction of the check done, now and then, from any thread (executor ops; the reference in steps).
Status CheckAgainstReference(const ScheduleConfig& forward_config, bool backward, Precision precision, uint64_t seed,
                             CheckReport* report, const std::function<void(double)>& progress = nullptr);

double RelativeError(const std::vector<double>& x, const std::vector<double>& ref);
double MaxAbsError(const std::vector<double>& x, const std::vector<double>& ref);

}  // namespace ringlab::cpu
