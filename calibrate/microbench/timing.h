// CUDA-event timing of repeated launches on one stream: warm-up launches first (untimed), then one start/stop event
// pair around each timed launch, synchronised after each so the repetitions do not queue behind one another; or,
// sustained, back-to-back launches after the GPU has run the kernel for a while.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "calibrate/microbench/checks.h"

namespace ringlab::calibrate {

// A kernel launch to time: returns the launcher's Status.
using Launch = std::function<Status()>;

class StreamGuard {
 public:
  explicit StreamGuard(cudaStream_t s) : s_(s) {}
  ~StreamGuard() { cudaStreamDestroy(s_); }
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  cudaStream_t s_;
};

class EventTimer {
 public:
  EventTimer() = default;
  ~EventTimer() {
    if (start_) cudaEventDestroy(start_);
    if (stop_) cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  // On the current device.
  Status Init() {
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventCreate(&start_));
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventCreate(&stop_));
    return Status::Ok();
  }

  // Sustained: back-to-back launches for about `sustain_ms` of GPU time first (the GPU reaches the clocks its power
  // limit allows under this kernel, as in a run's back-to-back iterations; short bursts run at boost clocks), then
  // `reps` back-to-back timed launches (an event between consecutive ones). Appends `reps` times in microseconds.
  Status TimeSustained(cudaStream_t st, double sustain_ms, int reps, const Launch& launch, std::vector<double>* us) {
    float once = 0;
    RINGLAB_RETURN_IF_ERROR(TimeOnce(st, launch, &once));
    const int n = int(std::clamp(std::ceil(sustain_ms / std::max(once, 1e-3f)), 1.0, 100000.0));
    for (int i = 0; i < n; ++i) RINGLAB_RETURN_IF_ERROR(launch());
    return TimeBackToBack(st, reps, launch, us);
  }

  // `warmup` untimed launches, then `reps` launches timed one at a time. Appends `reps` times in microseconds.
  Status Time(cudaStream_t st, int warmup, int reps, const Launch& launch, std::vector<double>* us) {
    for (int i = 0; i < warmup; ++i) RINGLAB_RETURN_IF_ERROR(launch());
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(st));
    for (int i = 0; i < reps; ++i) {
      float ms = 0;
      RINGLAB_RETURN_IF_ERROR(TimeOnce(st, launch, &ms));
      us->push_back(1e3 * ms);
    }
    return Status::Ok();
  }

 private:
  // One launch between the start and stop events, waited for: its time in milliseconds.
  Status TimeOnce(cudaStream_t st, const Launch& launch, float* ms) {
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventRecord(start_, st));
    RINGLAB_RETURN_IF_ERROR(launch());
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventRecord(stop_, st));
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop_));
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(ms, start_, stop_));
    return Status::Ok();
  }

  // `reps` launches queued back to back with an event between consecutive ones. Appends `reps` times in microseconds.
  static Status TimeBackToBack(cudaStream_t st, int reps, const Launch& launch, std::vector<double>* us) {
    std::vector<cudaEvent_t> ev(reps + 1, nullptr);
    Status status = Status::Ok();
    for (cudaEvent_t& e : ev)
      if (cudaEventCreate(&e) != cudaSuccess) status = Status::Internal("cudaEventCreate failed");
    if (status.ok()) {
      cudaEventRecord(ev[0], st);
      for (int i = 0; i < reps && status.ok(); ++i) {
        if (Status launched = launch(); !launched.ok()) status = launched;
        cudaEventRecord(ev[i + 1], st);
      }
      if (cudaEventSynchronize(ev[reps]) != cudaSuccess) status = Status::Internal("cudaEventSynchronize failed");
      for (int i = 0; i < reps && status.ok(); ++i) {
        float ms = 0;
        cudaEventElapsedTime(&ms, ev[i], ev[i + 1]);
        us->push_back(1e3 * ms);
      }
    }
    for (cudaEvent_t e : ev)
      if (e) cudaEventDestroy(e);
    return status;
  }

  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace ringlab::calibrate
