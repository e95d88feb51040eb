#include "kernels/cuda/watchdog.h"

#include <nccl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace ringlab::gpu::detail {
namespace {

constexpr double kGraceS = 10;  // after an abort, how long ranks may take to leave

}  // namespace

void AbortState::Fail(const std::string& msg) {
  std::lock_guard lock(mu);
  if (aborted) return;
  message = msg;
  aborted = true;
  if (!abort_file.empty()) {
    std::ofstream f(abort_file);
    f << msg << "\n";
  }
}

std::string AbortState::Message() {
  std::lock_guard lock(mu);
  return message;
}

void Watchdog::Start() {
  thread_ = std::thread([this] { Watch(); });
}

void Watchdog::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Watchdog::Watch() {
  int64_t failed_at = 0;
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int64_t now = NowNs();
    for (auto& r : ranks_) {
      if (r->comm && !abort_.aborted && !r->comm_aborted) {
        ncclResult_t res = ncclSuccess;
        if (ncclCommGetAsyncError(r->comm, &res) == ncclSuccess && res != ncclSuccess && res != ncclInProgress)
          abort_.Fail("rank " + std::to_string(r->rank) + ": NCCL reported an asynchronous error: " +
                      ncclGetErrorString(res));
      }
      const int64_t since = r->busy_since_ns;
      if (since && !abort_.aborted && double(now - since) * 1e-9 > timeout_s_)
        abort_.Fail("rank " + std::to_string(r->rank) + ": no progress for " + std::to_string(int(timeout_s_)) +
                    " s while " + r->busy_what.load() + " (a peer rank may have failed or stopped)");
    }
    if (!abort_.aborted && !abort_.abort_file.empty() && access(abort_.abort_file.c_str(), F_OK) == 0) {
      std::ifstream f(abort_.abort_file);
      std::string line;
      std::getline(f, line);
      if (!abort_.aborted) {
        std::lock_guard lock(abort_.mu);
        abort_.message = "a peer process failed: " + line;
        abort_.aborted = true;
      }
    }
    if (abort_.aborted && active_ > 0) {
      if (!failed_at) failed_at = now;
      // A rank blocked inside NCCL (a connection to a peer that will never come) is released by aborting its
      // communicator from here, as NCCL intends; the join in OnRanks then skips it.
      if (double(now - failed_at) * 1e-9 > 1.0)
        for (auto& r : ranks_) {
          ncclComm_t c = r->comm;
          if (c && r->busy_since_ns != 0 && !r->comm_aborted.exchange(true)) ncclCommAbort(c);
        }
      if (double(now - failed_at) * 1e-9 > kGraceS) {
        std::fprintf(stderr, "ringlab: error: %s (ranks still blocked %.0f s after the abort; exiting)\n",
                     abort_.Message().c_str(), kGraceS);
        std::fflush(stderr);
        std::_Exit(3);
      }
    }
  }
}

}  // namespace ringlab::gpu::detail
