// The engine's parameters for one run: the profile's numbers the event loop reads, derived once per run (and per pass
// where the profile measured the pass) instead of on every op.
//
//   Engine engine(topology, EngineParams::ForPass(hw, /*forward=*/true, world), programs, program_of_rank);
#pragma once

#include <cstdint>

#include "sim/profile.h"
#include "sim/time_ps.h"

namespace ringlab::sim {

struct EngineParams {
  // The profile's transfer tables (HardwareProfile::HeldSmsFor, P2pTimeUs), looked up per transfer; must outlive the
  // engine.
  const HardwareProfile* profile = nullptr;
  // Some compute op may run slower beside a transfer (comm_slowdown > 0 or nccl_sms > 0).
  bool compute_slows_beside_comm = false;
  // NCCL's kernels take SMs (nccl_sms > 0): a kernel launched beside them is list-scheduled when they leave.
  bool nccl_takes_sms = false;
  // HardwareProfile::comm_start_wait.
  double comm_start_wait = 0;
  // A transfer's rate factor while either end computes (HardwareProfile::BesideRate of the pass).
  double beside_rate = 1;
  // Extra latency of each ring step of a collective, and (>= 0) the whole latency of one step instead of the link's.
  TimePs collective_step_latency_ps = 0;
  TimePs collective_hop_latency_ps = -1;
  // How often NCCL takes SMs from an eligible kernel's last round in this pass (HardwareProfile::
  // DisplacedTailFraction).
  double displaced_tail_fraction = 1;
  // Pass start: each rank has probability `kernel_first_fraction` of having posted ahead of its GPU, so that its first
  // kernel gets the SMs before its first transfer (HardwareProfile::forward_kernel_first). The engine is deterministic:
  // a transfer posted at t = 0 beside a GPU-filling kernel waits the expected time, q × the start wait, where
  // q = 1 − (1 − f)^n is the chance that at least one of its n participants (2 for send/recv, W for a collective) is
  // kernel-first; the collective or pair cannot start before that rank's NCCL kernel has SMs.
  double kernel_first_fraction = 0;
  // Pass start: a rank whose host posts an NCCL group (a comm op with no dependencies, listed before the first compute
  // op) before its first kernel, on a GPU that is not held back (not kernel-first), launches that kernel only after
  // the host is done posting: the first compute op starts no earlier than this. ForPass sets the expected delay,
  // (1 − kernel-first fraction) × HardwareProfile::nccl_post_us.
  TimePs first_kernel_delay_ps = 0;

  // The profile's pass-independent numbers; no pass-start effects (kernel-first fraction and first-kernel delay 0).
  static EngineParams FromProfile(const HardwareProfile& hw);
  // What Simulate runs a pass with at world size `world`: the pass's measured numbers and pass-start effects.
  static EngineParams ForPass(const HardwareProfile& hw, bool forward, int world);
};

}  // namespace ringlab::sim
