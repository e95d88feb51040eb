// GPU microbenchmarks behind `ringlab calibrate`: our attention kernels over the calibration plan's block shapes, the
// memory-bound kernels of a ring step, NCCL point-to-point and all-gather over message sizes, and attention beside
// NCCL traffic. Every timing is CUDA events around the work after warm-up; a sample is the median of the
// repetitions. Every CUDA and NCCL return code is checked: a failure comes back as a Status naming the call.
// Plain C++ header (no CUDA types). The microbenchmarks emit samples (calibrate/samples.h) and depend on the kernels
// and core only, never on the simulator: calibrate/fit turns the samples into a profile.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "calibrate/calibration_plan.h"
#include "calibrate/samples.h"
#include "core/status.h"

namespace ringlab::calibrate {

struct DeviceFacts {
  std::string card;            // cudaDeviceProp::name of device 0
  int sms = 0;                 // multiprocessors of device 0
  int visible = 0;             // CUDA devices visible
  std::string driver;          // NVIDIA driver version (/proc/driver/nvidia/version) or the CUDA driver API version
  std::string cuda_runtime;    // e.g. "13.0"
  std::string nccl;            // e.g. "2.27.3"
};

// Facts about the visible GPUs; an error when there is no GPU or no driver.
Status QueryDevices(DeviceFacts* facts);

struct BenchOptions {
  int warmup = 2;
  int reps = 7;
  // > 0: attention kernels are timed sustained (EventTimer::TimeSustained) after this much GPU time of the same kernel.
  double sustain_ms = 0;
  // > 0: before the first case, the plan's largest forward case runs back to back for this long (the GPU reaches the
  // power and thermal state of a long run before anything is timed).
  double preheat_ms = 0;
  // Called after each case with a one-line description (for progress on stderr).
  std::function<void(const std::string&)> progress;
};

// Times every case of `plan` on `device` (kernels via the public launchers of kernels/cuda/attention_kernels.h, the
// forward in merge mode: the fused log-sum-exp epilogue of a ring step) and appends one kernel sample per case. Also
// times the backward's delta preprocess (a "copy" memory sample) and the dK/dV accumulator add (a "merge" sample) at
// the backward cases' sizes.
Status BenchKernels(int device, const std::vector<KernelCase>& plan, const BenchOptions& options,
                    FitInputs* out);

// NCCL on `devices` (one communicator each, one process): point-to-point between the first two (both directions in
// one group, as a W = 2 ring step) and around all of them (each sends to the next, receives from the previous), and
// all-gathers over all of them, per message size: alone, beside an attention kernel that was launched after the
// transfer (NCCL has its SMs first: transfer time beside compute, and the attention time beside traffic against
// alone -> overlap pairs), and posted while an attention kernel runs (start-wait samples); then the all-to-all among
// all of them alone (CommPlan's alltoall cases whose bytes are in `sizes`: the profile's network.alltoall_time_us).
Status BenchComm(const std::vector<int>& devices, const std::vector<int64_t>& sizes, const BenchOptions& options,
                 FitInputs* out);

}  // namespace ringlab::calibrate
