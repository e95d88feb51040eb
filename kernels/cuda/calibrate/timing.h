// CUDA-event timing of repeated launches on one stream: warm-up launches first (untimed), then one start/stop event
// pair around each timed launch, synchronised after each so the repetitions do not queue behind one another.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "kernels/cuda/calibrate/checks.h"

namespace ringlab::calibrate {

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
    CAL_CUDA(cudaEventCreate(&start_));
    CAL_CUDA(cudaEventCreate(&stop_));
    return Status::Ok();
  }
  // Sustained: back-to-back launches for about `sustain_ms` of GPU time first (the GPU reaches the clocks its power
  // limit allows under this kernel, as in a run's back-to-back iterations; short bursts run at boost clocks), then
  // `reps` back-to-back timed launches (an event between consecutive ones). Appends `reps` times in microseconds.
  Status TimeSustained(cudaStream_t st, double sustain_ms, int reps, const std::function<Status()>& launch,
                       std::vector<double>* us) {
    CAL_CUDA(cudaEventRecord(start_, st));
    CAL_LAUNCH(launch());
    CAL_CUDA(cudaEventRecord(stop_, st));
    CAL_CUDA(cudaEventSynchronize(stop_));
    float once = 0;
    CAL_CUDA(cudaEventElapsedTime(&once, start_, stop_));
    const int n = int(std::clamp(std::ceil(sustain_ms / std::max(once, 1e-3f)), 1.0, 100000.0));
    for (int i = 0; i < n; ++i) CAL_LAUNCH(launch());
    std::vector<cudaEvent_t> ev(reps + 1, nullptr);
    Status st_all = Status::Ok();
    for (cudaEvent_t& e : ev)
      if (cudaEventCreate(&e) != cudaSuccess) st_all = Status::Internal("cudaEventCreate failed");
    if (st_all.ok()) {
      cudaEventRecord(ev[0], st);
      for (int i = 0; i < reps && st_all.ok(); ++i) {
        if (Status launched = launch(); !launched.ok()) st_all = launched;
        cudaEventRecord(ev[i + 1], st);
      }
      if (cudaEventSynchronize(ev[reps]) != cudaSuccess) st_all = Status::Internal("cudaEventSynchronize failed");
      for (int i = 0; i < reps && st_all.ok(); ++i) {
        float ms = 0;
        cudaEventElapsedTime(&ms, ev[i], ev[i + 1]);
        us->push_back(1e3 * ms);
      }
    }
    for (cudaEvent_t e : ev)
      if (e) cudaEventDestroy(e);
    return st_all;
  }

  // `launch` returns the launcher's Status. Appends `reps` times in microseconds.
  Status Time(cudaStream_t st, int warmup, int reps, const std::function<Status()>& launch,
              std::vector<double>* us) {
    for (int i = 0; i < warmup; ++i) CAL_LAUNCH(launch());
    CAL_CUDA(cudaStreamSynchronize(st));
    for (int i = 0; i < reps; ++i) {
      CAL_CUDA(cudaEventRecord(start_, st));
      CAL_LAUNCH(launch());
      CAL_CUDA(cudaEventRecord(stop_, st));
      CAL_CUDA(cudaEventSynchronize(stop_));
      float ms = 0;
      CAL_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
      us->push_back(1e3 * ms);
    }
    return Status::Ok();
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

}  // namespace ringlab::calibrate
