#include "apps/progress.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <system_error>

#include "apps/logging.h"

namespace ringlab::cli {
namespace {

// No lines before this: short runs stay silent. RINGLAB_PROGRESS_AFTER_S overrides it (tests, impatient users).
double QuietStartS() {
  static const double s = [] {
    const char* v = std::getenv("RINGLAB_PROGRESS_AFTER_S");
    char* end = nullptr;
    const double x = v ? std::strtod(v, &end) : 2.0;
    return v && end != v && *end == '\0' && x >= 0 ? x : 2.0;
  }();
  return s;
}
constexpr double kEveryS = 5;            // a line at least this often afterwards
constexpr double kEveryFraction = 0.05;  // and one for every 5% of the work,
constexpr double kAtMostEveryS = 1;      // but not more than one a second

std::string Seconds(double s) {
  char b[32];
  if (s < 100)
    std::snprintf(b, sizeof b, "%.1f s", s);
  else if (s < 3600)
    std::snprintf(b, sizeof b, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(b, sizeof b, "%dh%02dm", int(s) / 3600, int(s) % 3600 / 60);
  return b;
}

}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), enabled_(ProgressEnabled() && total > 0) {
  if (!enabled_) return;
  try {
    heartbeat_ = std::thread([this] { Heartbeat(); });
  } catch (const std::system_error&) {  // no thread to spare: lines come only with updates
  }
}

Progress::~Progress() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void Progress::Update(double done) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  done_ = std::max(done_, done);
  MaybePrint();
}

void Progress::Heartbeat() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) MaybePrint();
}

void Progress::MaybePrint() {
  const Clock::time_point now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - printed_at_).count();
  if (elapsed < QuietStartS() || done_ >= total_) return;
  const bool first = printed_done_ < 0;
  const bool step = done_ - printed_done_ >= kEveryFraction * double(total_) && since >= kAtMostEveryS;
  if (!first && !step && since < kEveryS) return;
  const double fraction = done_ / double(total_);
  const std::string eta = done_ > 0 ? "ETA " + Seconds(elapsed * (1 - fraction) / fraction) : "ETA unknown yet";
  spdlog::info("{}: {:.0f}% ({} of {} {} done), {} elapsed, {}", label_, 100 * fraction, int64_t(done_), total_,
               unit_, Seconds(elapsed), eta);
  printed_done_ = done_;
  printed_at_ = now;
}

}  // namespace ringlab::cli
