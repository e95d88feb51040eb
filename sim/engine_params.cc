#include "sim/engine_params.h"

#include <cmath>

namespace ringlab::sim {
EngineParams EngineParams::FromProfile(const HardwareProfile& hw) {
  EngineParams p;
  p.profile = &hw;
  p.compute_slows_beside_comm = hw.comm_slowdown > 0 || hw.nccl_sms > 0;
  p.nccl_takes_sms = hw.nccl_sms > 0;
  p.comm_start_wait = hw.comm_start_wait;
  p.beside_rate = hw.comm_rate_beside_compute;
  p.collective_step_latency_ps = RoundPs(hw.collective_step_latency_us * 1e6);
  p.collective_hop_latency_ps = hw.collective_hop_latency_us >= 0 ? RoundPs(hw.collective_hop_latency_us * 1e6) : -1;
  p.displaced_tail_fraction = hw.displaced_tail_fraction;
  return p;
}

EngineParams EngineParams::ForPass(const HardwareProfile& hw, bool forward, int world) {
  EngineParams p = FromProfile(hw);
  p.kernel_first_fraction = world > 1 ? KernelFirstFraction(hw, forward, world) : 0;
  p.beside_rate = hw.BesideRate(forward);
  p.first_kernel_delay_ps =
      TimePs(std::llround((world > 1 ? (1 - p.kernel_first_fraction) * hw.nccl_post_us : 0) * 1e6));
  p.displaced_tail_fraction = hw.DisplacedTailFraction(forward);
  return p;
}

}  // namespace ringlab::sim
