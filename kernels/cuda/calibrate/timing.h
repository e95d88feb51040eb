// CUDA-event timing of repeated launches on one stream: warm-up launches first (untimed), then one start/stop event
// pair around each timed launch, synchronised after each so the repetitions do not queue behind one another.
#pragma once

#include <cuda_runtime.h>

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
  // `launch` returns the launcher's error message (empty on success). Appends `reps` times in microseconds.
  Status Time(cudaStream_t st, int warmup, int reps, const std::function<const char*()>& launch,
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
