#include "kernels/cpu/reference_check.h"

#include <cmath>

#include "core/schedule_validator.h"
#include "kernels/cpu/reference_attention.h"

namespace ringlab::cpu {

double DefaultTolerance(Precision p) { return p == Precision::kFloat64 ? 1e-12 : 1e-5; }

double RelativeError(const std::vector<double>& x, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    // −inf lse (rows that see nothing) cannot occur in full attention; any NaN or inf in x makes the error infinite.
    const double d = x[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  if (!std::isfinite(num)) return INFINITY;
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

double MaxAbsError(const std::vector<double>& x, const std::vector<double>& ref) {
  double m = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::abs(x[i] - ref[i]);
    if (!std::isfinite(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

Status CheckAgainstReference(const ScheduleConfig& forward_config, bool backward, Precision precision, uint64_t seed,
                             CheckReport* report, const std::function<void(double)>& progress) {
  // The four steps' shares of the work (a backward costs about 2.5 forwards): executor forward, reference forward,
  // executor backward, reference backward. step(k, f): step k is a fraction f done.
  const double weights[4] = {1, 1, backward ? 2.5 : 0, backward ? 2.5 : 0};
  const double all = weights[0] + weights[1] + weights[2] + weights[3];
  auto step = [&](int k, double f) {
    if (!progress) return;
    double done = f * weights[k];
    for (int i = 0; i < k; ++i) done += weights[i];
    progress(done / all);
  };
  auto executor_step = [&](int k) {
    return [&step, k](int64_t done, int64_t total) { step(k, total > 0 ? double(done) / double(total) : 1); };
  };
  ScheduleConfig fcfg = forward_config;
  fcfg.pass = Pass::kForward;
  Schedule fwd_schedule;
  RINGLAB_RETURN_IF_ERROR(BuildSchedule(fcfg, &fwd_schedule));
  // The executor trusts the schedule (an op writing an undeclared buffer crashed it): check the invariants first.
  RINGLAB_RETURN_IF_ERROR(ValidateSchedule(fwd_schedule));
  const Problem& p = fcfg.problem;
  const GlobalInputs in = RandomInputs(p, seed);
  ExecutorOptions options{.precision = precision};
  if (progress) options.progress = executor_step(0);
  ForwardOutputs fwd;
  RINGLAB_RETURN_IF_ERROR(ExecuteForward(fwd_schedule, in, options, &fwd, &report->forward_trace));

  const AttentionShape shape{.batch = p.batch, .heads = p.heads, .kv_heads = p.kv_heads, .q_tokens = p.seq,
                             .kv_tokens = p.seq, .head_dim = p.head_dim};
  const Mask full_mask = p.AttentionMask();
  const MaskSpec mask{.causal = p.causal, .general = full_mask.IsPlain() ? nullptr : &full_mask};
  std::vector<double> out(shape.QElements()), lse(shape.LseElements());
  ReferenceForward(shape, mask, in.q.data(), in.k.data(), in.v.data(), out.data(), lse.data());
  step(1, 1);
  report->errors = {{"out", MaxAbsError(fwd.out, out), RelativeError(fwd.out, out)},
                    {"lse", MaxAbsError(fwd.lse, lse), RelativeError(fwd.lse, lse)}};
  if (backward) {
    ScheduleConfig bcfg = fcfg;
    bcfg.pass = Pass::kBackward;
    Schedule bwd_schedule;
    RINGLAB_RETURN_IF_ERROR(BuildSchedule(bcfg, &bwd_schedule));
    RINGLAB_RETURN_IF_ERROR(ValidateSchedule(bwd_schedule));
    BackwardOutputs grads;
    if (progress) options.progress = executor_step(2);
    RINGLAB_RETURN_IF_ERROR(ExecuteBackward(bwd_schedule, in, fwd, options, &grads, &report->backward_trace));
    std::vector<double> dq(shape.QElements()), dk(shape.KvElements()), dv(shape.KvElements());
    ReferenceBackward(shape, mask, in.q.data(), in.k.data(), in.v.data(), out.data(), lse.data(), in.dout.data(),
                      dq.data(), dk.data(), dv.data());
    step(3, 1);
    report->errors.push_back({"dq", MaxAbsError(grads.dq, dq), RelativeError(grads.dq, dq)});
    report->errors.push_back({"dk", MaxAbsError(grads.dk, dk), RelativeError(grads.dk, dk)});
    report->errors.push_back({"dv", MaxAbsError(grads.dv, dv), RelativeError(grads.dv, dv)});
  }
  report->tolerance = DefaultTolerance(precision);
  report->pass = true;
  for (const TensorError& e : report->errors) report->pass &= e.relative <= report->tolerance;
  return Status::Ok();
}

}  // namespace ringlab::cpu
