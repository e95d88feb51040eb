// The GPU executor's fault handling (internal to kernels/cuda): a failing rank must not hang the others.
//
// AbortState is the process-wide abort flag every local rank polls in its waits (and, in multi-process file mode, an
// abort file its peer processes poll). The Watchdog thread turns a rank that stays inside one blocking call past the
// timeout, NCCL's asynchronous errors and a peer's abort file into an abort; after an abort it releases ranks blocked
// inside NCCL by aborting their communicators, and ends the process with a clear message if they stay blocked past
// the grace time.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kernels/cuda/rank_resources.h"

namespace ringlab::gpu::detail {

// Process-wide abort state shared by every local rank and the watchdog.
struct AbortState {
  std::atomic<bool> aborted{false};
  std::mutex mu;
  std::string message;
  std::string abort_file;  // multi-process file mode: peers poll it
  double timeout_s = 300;

  // Records the first failure (later ones are dropped) and, in file mode, tells the peer processes.
  void Fail(const std::string& msg);
  std::string Message();
};

class Watchdog {
 public:
  // Watches `ranks` every 50 ms while `active` ranks run; a blocking call longer than timeout_s aborts.
  Watchdog(const std::vector<std::unique_ptr<Rank>>& ranks, AbortState& abort, const std::atomic<int>& active,
           double timeout_s)
      : ranks_(ranks), abort_(abort), active_(active), timeout_s_(timeout_s) {}
  ~Watchdog() { Stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void Start();
  void Stop();  // joins the thread; safe to call twice

 private:
  void Watch();

  const std::vector<std::unique_ptr<Rank>>& ranks_;
  AbortState& abort_;
  const std::atomic<int>& active_;
  const double timeout_s_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ringlab::gpu::detail
