// The profile's lookups over its own tables (reading a profile from JSON: profile_parse.cc).
#include "sim/profile.h"

#include <algorithm>
#include <cmath>

namespace ringlab::sim {

double AttentionTable::TflopsAt(double tokens) const {
  if (points.empty()) return 0;
  if (tokens <= points.front().first) return points.front().second;
  if (tokens >= points.back().first) return points.back().second;
  for (size_t i = 1; i < points.size(); ++i) {
    if (tokens <= points[i].first) {
      const auto [x0, y0] = points[i - 1];
      const auto [x1, y1] = points[i];
      const double f = (std::log2(tokens) - std::log2(x0)) / (std::log2(x1) - std::log2(x0));
      return y0 + f * (y1 - y0);
    }
  }
  return points.back().second;
}

double KernelFirstFraction(const HardwareProfile& hw, bool forward, int world) {
  const auto& t = forward ? hw.forward_kernel_first : hw.backward_kernel_first;
  if (t.empty()) return 0;
  double f = t.front().second;
  for (const auto& [w, x] : t)
    if (w <= world) f = x;
  return f;
}

const AttentionTable* HardwareProfile::FindTable(const std::string& pass, const std::string& mask, int head_dim,
                                                 const std::string& mode) const {
  const AttentionTable* modeless = nullptr;
  for (const AttentionTable& t : attention) {
    if (t.pass != pass || t.mask != mask || t.head_dim != head_dim) continue;
    if (mode.empty() || t.mode == mode) return &t;
    if (t.mode.empty() && !modeless) modeless = &t;
  }
  return modeless;
}

namespace {

// A [bytes, us] table's time for `bytes`: log-log interpolation, beyond its ends the NVLink line's slope.
double TableTimeUs(const std::vector<std::pair<int64_t, double>>& t, double nvlink_gbps, int64_t bytes) {
  if (t.empty() || bytes <= 0) return -1;
  const double per_byte_us = 1.0 / (nvlink_gbps * 1e3);  // the line's slope beyond the table
  if (bytes <= t.front().first) return std::max(0.0, t.front().second - double(t.front().first - bytes) * per_byte_us);
  if (bytes >= t.back().first) return t.back().second + double(bytes - t.back().first) * per_byte_us;
  size_t i = 1;
  while (t[i].first < bytes) ++i;
  const double x0 = std::log(double(t[i - 1].first)), x1 = std::log(double(t[i].first));
  const double y0 = std::log(t[i - 1].second), y1 = std::log(t[i].second);
  return std::exp(y0 + (y1 - y0) * (std::log(double(bytes)) - x0) / (x1 - x0));
}

bool InsideTable(const std::vector<std::pair<int64_t, double>>& t, int64_t bytes) {
  return !t.empty() && bytes >= t.front().first && bytes <= t.back().first;
}

}  // namespace

bool HardwareProfile::P2pMeasured(bool ring, int64_t bytes) const {
  return InsideTable(ring && !p2p_time_ring_us.empty() ? p2p_time_ring_us : p2p_time_pair_us, bytes);
}

bool HardwareProfile::AllToAllMeasured(int64_t bytes) const { return InsideTable(alltoall_time_us, bytes); }

double HardwareProfile::P2pTimeUs(bool ring, int64_t bytes) const {
  return TableTimeUs(ring && !p2p_time_ring_us.empty() ? p2p_time_ring_us : p2p_time_pair_us, nvlink_gbps, bytes);
}

double HardwareProfile::AllToAllTimeUs(int64_t bytes) const { return TableTimeUs(alltoall_time_us, nvlink_gbps, bytes); }

double HardwareProfile::HeldSmsFor(bool collective, bool ring, int64_t bytes) const {
  const auto& t = collective ? held_sms_collective : ring ? held_sms_ring : held_sms_pair;
  if (t.empty()) return nccl_sms;
  double v = t.front().second;
  for (const auto& [b, sms] : t)
    if (b <= bytes) v = sms;
  return v;
}

}  // namespace ringlab::sim
