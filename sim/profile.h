// Hardware profile: the numbers the simulator's cost model and network use, loaded from JSON. Profiles are data:
// every number in a profile file carries its source ({"value": 989, "source": "NVIDIA H100 datasheet"}).
//
//   HardwareProfile hw;
//   Status st = LoadProfile("h100_sxm", &hw);   // a name in sim/profiles/ or a path to a .json file
//
// Units are in the field names: _tflops (1e12 FLOP/s), _gbps (1e9 bytes/s), _us (microseconds), _gib (2^30 bytes).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "sim/wave_model.h"

namespace ringlab::sim {

// Achieved attention throughput for one (pass, mask, head dim), as a function of the block size. The block size of
// a q×kv block is its geometric mean side sqrt(q_tokens·kv_tokens); between points the rate is interpolated linearly
// in log2(size), outside them it is held at the nearest point.
// Optional kernel wave model (wave_model.h; replaces `points` when present).
struct AttentionTable {
  std::string pass;  // forward | backward
  std::string mask;  // causal | full
  int head_dim = 128;
  std::vector<std::pair<double, double>> points;  // (block tokens, TFLOP/s), increasing tokens
  std::string source;
  WaveModel wave;  // last, so {pass, mask, head_dim, points, source} aggregate initialisation keeps working
  // The ranges the table's measurements span (JSON "measured": {"batch_heads": [lo, hi], "ctas": [lo, hi]}; {0, 0}
  // when the profile does not say): sequences × query heads of the measured kernels, and CTAs per kernel (wave
  // models). The cost model counts an op outside them as extrapolated (cost_model.h).
  std::pair<double, double> measured_batch_heads{0, 0}, measured_ctas{0, 0};
  // Tiles per CTA (WaveModel::TilesPerCta) of the measured kernels (JSON "measured": {"tiles_per_cta": [lo, hi]}),
  // for a wave model with the CTA cost form: an op outside it is counted as extrapolated (block size).
  std::pair<double, double> measured_tiles_per_cta{0, 0};
  // JSON "measured": {"tile_multiple": N}: the table holds only at query and key lengths that are multiples of N (its
  // kernel takes another, unmodelled path at other lengths); an op off it is counted as extrapolated (off_tile).
  // 0: any length.
  int measured_tile_multiple = 0;
  // Forward tables only (JSON "mode"): how the measured kernels wrote their output, "merge" (the log-sum-exp merge
  // into running accumulators: ring steps after the first) or "overwrite" (a ring's first step, one-GPU attention);
  // "" (the JSON omits it): measured for both, or a kernel that does not distinguish them (the peer's SDPA).
  std::string mode;
  double TflopsAt(double tokens) const;
};

struct HardwareProfile {
  std::string name;      // short name, e.g. "h100_sxm"
  std::string gpu;       // human description
  // compute
  double peak_tflops = 989;      // dense bf16 peak, for MFU and the roofline fallback
  double max_efficiency = 0.6;   // roofline fallback: attention runs at peak·max_efficiency unless memory bound
  double launch_us = 0;          // fixed cost per kernel launch
  // Host time of one attention call in the modelled framework, per pass (JSON compute.forward_call_host_us,
  // backward_call_host_us; 0: not modelled): an attend op takes at least this long, because the GPU cannot finish a
  // call before the host has issued it. PyTorch eager's SDPA (Python checks, dispatch, autograd for the backward)
  // spends ~50 us forward and ~170 us backward per call on the host, more than a small problem's kernels take;
  // ringlab's C++ executor issues a kernel in a few microseconds (launch_us covers it).
  double forward_call_host_us = 0, backward_call_host_us = 0;
  // Host skew at the start of a pass: the ranks' first ops start up to this much apart (each rank's host thread
  // issues its pass on its own), and the ring waits for the last one; added to the simulated step time.
  double forward_start_skew_us = 0, backward_start_skew_us = 0;
  // Pass start on a rank whose host posted ahead of its GPU: every rank's GPU is held by the iteration's barrier
  // all-reduce on the compute stream, so a host that reached the barrier early has already queued its first kernel and
  // first transfer when the barrier completes; the compute stream then runs on at once while the comm stream waits for
  // a cross-stream event, and the transfer finds the SMs taken (comm_start_wait). Per world size (ascending): the
  // fraction of ranks whose first kernel started before their first transfer in real runs. Empty: the transfer listed
  // first gets its SMs first on every rank. See KernelFirstFraction.
  std::vector<std::pair<int, double>> forward_kernel_first, backward_kernel_first;
  // Host time to post an NCCL group (ncclGroupStart, the sends/receives or the collective, ncclGroupEnd) on a rank
  // whose GPU waits for the host: the kernel listed after it launches that much later
  // (EngineParams::first_kernel_delay_ps).
  double nccl_post_us = 0;
  // Whether the executor being modelled starts a rank's ops in list order where that costs nothing (core/start_order.h:
  // ringlab's GPU executor does; JSON compute.start_order "listed", the default) or lets each stream release its ops
  // as they become ready, so a kernel wins a tie with a transfer listed before it ("streams": PyTorch's CP).
  bool listed_start_order = true;
  double comm_slowdown = 0;      // compute runs (1 + comm_slowdown)× slower while the rank's comm stream is busy
  // A communication kernel posted while an attention kernel holds every SM gets SMs only as that kernel's CTAs leave:
  // its transfer starts after this fraction of the running compute op's remaining time (0: at once; 1: at its end).
  double comm_start_wait = 0;
  // SMs NCCL's kernels hold while a transfer is in flight: meanwhile an attention kernel runs as on sms − nccl_sms
  // SMs (its wave model's slowdown for that block: one more partial round can cost far more than the SMs' share).
  double nccl_sms = 0;
  // SMs NCCL's kernel occupies while a transfer runs (its CTAs), which decide how a kernel of a few rounds launched
  // beside it is list-scheduled (HeldSlotsMakespan). nccl_sms above is the throughput a transfer takes from a long
  // kernel, memory contention included; a point-to-point transfer occupies fewer. Measured per transfer pattern and
  // message size (`ringlab calibrate`'s occupancy probe): [bytes, SMs] ascending, for a send and a receive with one
  // peer (pair), with two peers (ring: send to the next, receive from the previous) and all-gather/reduce-scatter.
  std::vector<std::pair<int64_t, double>> held_sms_pair, held_sms_ring, held_sms_collective;
  // SMs NCCL's kernel occupies for a transfer of `bytes` (the table's value at the largest size <= bytes, else its
  // first), or nccl_sms without a table.
  double HeldSmsFor(bool collective, bool ring, int64_t bytes) const;
  // How often a transfer posted before a full-mask kernel's last partial round takes SMs from that round (the CTAs
  // that no longer fit run one round later: WaveModel::DisplacedTailUs). Real runs show it on some ranks and not on
  // others of the same shape, so the engine adds this fraction of the extra round (the expected value); calibration
  // counts it on real traces. 1: always.
  double displaced_tail_fraction = 1;
  // The same per pass when measured (< 0: not measured, the value above applies). The runs show it in backward kernels
  // only (forward 0 of 150).
  double forward_displaced_tail_fraction = -1, backward_displaced_tail_fraction = -1;
  double DisplacedTailFraction(bool forward) const {
    const double f = forward ? forward_displaced_tail_fraction : backward_displaced_tail_fraction;
    return f >= 0 ? f : displaced_tail_fraction;
  }
  std::vector<AttentionTable> attention;
  // memory
  double hbm_gbps = 3350;        // attention roofline memory bound
  double copy_gbps = 3000;       // copy / prepare ops: op bytes (read + written) per second
  double merge_gbps = 3000;      // merge ops: op bytes per second
  int merge_kernels = 1;         // kernel launches per merge op (launch_us each)
  double memory_gib = 80;
  // network
  int gpus_per_node = 8;
  double nvlink_gbps = 450;      // per GPU per direction, achieved
  double nvlink_latency_us = 0;
  double nic_gbps = 50;          // per GPU per direction (one NIC per GPU), achieved
  double nic_latency_us = 0;
  double collective_step_latency_us = 0;  // extra per ring step of a collective
  // When set (>= 0): the whole latency of one ring step of a collective, instead of the link latency + the step
  // latency above. NCCL's point-to-point latency (a kernel launch and a handshake per call) is far above the per-hop
  // cost inside its pipelined ring collectives; a profile fitted from measurements sets both.
  double collective_hop_latency_us = -1;
  // NCCL's kernels share the SMs with attention: a transfer runs at this fraction of its link rate while the compute
  // stream of either end is busy (1: no effect).
  double comm_rate_beside_compute = 1;
  // The same beside a backward kernel, when measured (negative: comm_rate_beside_compute); the simulator uses it for
  // backward passes. BesideRate(forward) picks.
  double backward_comm_rate_beside_compute = -1;
  // Point-to-point transfer times with the GPUs otherwise idle, per pattern and message size ([bytes, us] ascending;
  // `ringlab calibrate`): NCCL's channel count grows with the message, so one line (nvlink_gbps, nvlink_latency_us)
  // fits the sizes a ring step uses badly. Empty: the line.
  std::vector<std::pair<int64_t, double>> p2p_time_pair_us, p2p_time_ring_us;
  // The table's time for `bytes` (log-log interpolation; beyond its ends the line's slope), or −1 without a table.
  double P2pTimeUs(bool ring, int64_t bytes) const;
  // All-to-all among the GPUs of one node (NCCL grouped send/recv; network.alltoall_time_us.nvlink, [bytes one member
  // sends in all, us] ascending), when measured. Empty: the NVLink/NIC line, and simulated all-to-alls are reported
  // as extrapolated. AllToAllTimeUs interpolates as P2pTimeUs, or −1 without a table.
  std::vector<std::pair<int64_t, double>> alltoall_time_us;
  double AllToAllTimeUs(int64_t bytes) const;
  // Whether the table P2pTimeUs / AllToAllTimeUs reads has a point at or below and at or above `bytes` (inside its
  // measured range; sim/transfer_tally.h counts the others as extrapolated).
  bool P2pMeasured(bool ring, int64_t bytes) const;
  bool AllToAllMeasured(int64_t bytes) const;
  double BesideRate(bool forward) const {
    return !forward && backward_comm_rate_beside_compute > 0 ? backward_comm_rate_beside_compute : comm_rate_beside_compute;
  }

  // The table for (pass, mask, head_dim) measured in `mode` ("merge" | "overwrite"), else one without a mode, else
  // nullptr. `mode` "" takes the first table of the key whatever its mode.
  const AttentionTable* FindTable(const std::string& pass, const std::string& mask, int head_dim,
                                  const std::string& mode = "") const;
};

// The fraction of ranks that start a pass kernel-first at world size `world`: the entry of the largest measured world
// size <= world (the smallest one below all of them); 0 when none was measured.
double KernelFirstFraction(const HardwareProfile& hw, bool forward, int world);

// Parses a profile (profile_parse.cc); errors name the file and the field ("h100.json: network.nic_gbps.value must be
// > 0").
Status ParseProfile(const nlohmann::json& j, const std::string& origin, HardwareProfile* out);
// The file LoadProfile reads for `name_or_path`: the path itself when it has a '/' or ends in .json, else
// <ProfileDir()>/<name>.json.
std::string ProfilePath(const std::string& name_or_path);
// `name_or_path`: a path to a JSON file, or a name looked up as <profile dir>/<name>.json. `text`, when given, gets
// the file's text as it was parsed: the file is read once (a fifo cannot be read twice).
Status LoadProfile(const std::string& name_or_path, HardwareProfile* out, std::string* text = nullptr);
// The folder of the bundled profiles (sim/profiles in the source tree, or $RINGLAB_PROFILE_DIR).
std::string ProfileDir();
// The profile `ringlab sim` and `sweep` use unless told: the kernels this project runs, fitted to H100 measurements
// and validated on held-out real runs (bench/results/sim_validation.md).
inline constexpr const char* kDefaultProfile = "h100_sxm_calibrated";
// The base whose unmeasured numbers `ringlab calibrate` and `fit-profile` keep: the cuDNN-rate what-if profile.
inline constexpr const char* kBaseProfile = "h100_sxm";

}  // namespace ringlab::sim
