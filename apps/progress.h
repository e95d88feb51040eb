// Progress of a long operation (sweep, sim, check, calibrate, run) on stderr, as lines that read the same on a
// terminal and in a log file:
//
//   ringlab: sweep: 45% (9 of 20 jobs done), 12.3 s elapsed, ETA 15 s
//
// Silent for the first 2 s (short runs print nothing; RINGLAB_PROGRESS_AFTER_S=seconds changes it), then a line every
// 5% of the work (at most one a second) and at least every 5 s; a heartbeat thread keeps the lines coming while one
// long unit of work runs. -q turns it off.
//
//   Progress progress("sweep", jobs.size(), "jobs");
//   ... progress.Update(done);   // any thread; `done` may be fractional (2.4 of 3 configurations: a long one's share)
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace ringlab::cli {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();  // stops the heartbeat; no final line (the command's own output says it is done)
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void Update(double done);

 private:
  using Clock = std::chrono::steady_clock;
  void MaybePrint();  // mu_ held
  void Heartbeat();

  const std::string label_, unit_;
  const int64_t total_;
  const bool enabled_;
  const Clock::time_point start_ = Clock::now();
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  double done_ = 0;
  double printed_done_ = -1;
  Clock::time_point printed_at_ = start_;
  std::thread heartbeat_;
};

}  // namespace ringlab::cli
