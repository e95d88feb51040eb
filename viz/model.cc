#include <algorithm>
#include <cmath>
#include <cstdio>

#include "viz/model.h"

namespace ringlab::viz {

std::string_view VizKindName(VizKind k) {
  static constexpr std::string_view kNames[kVizKindCount] = {
      "attend", "send", "recv", "all-gather", "reduce-scatter", "merge", "copy", "prepare", "kernel", "comm", "host"};
  return size_t(k) < kVizKindCount ? kNames[size_t(k)] : "?";
}

bool IsCommKind(VizKind k) {
  return k == VizKind::kSend || k == VizKind::kRecv || k == VizKind::kAllGather || k == VizKind::kReduceScatter ||
         k == VizKind::kCommOther;
}
bool IsComputeKind(VizKind k) { return !IsCommKind(k) && k != VizKind::kHost; }

int64_t TraceModel::FindOp(int rank, int op) const {
  auto it = op_index.find(rank);
  if (it == op_index.end() || op < 0 || size_t(op) >= it->second.size()) return -1;
  return it->second[size_t(op)];
}

std::vector<int> TraceModel::LanesOfRank(int rank) const {
  std::vector<int> r;
  for (int i = 0; i < int(lanes.size()); ++i)
    if (lanes[i].rank == rank) r.push_back(i);
  return r;
}

uint32_t TraceModel::FirstVisible(int lane, double t) const {
  const Lane& l = lanes[size_t(lane)];
  auto b = max_end.begin() + l.begin, e = max_end.begin() + l.end;
  return uint32_t(std::upper_bound(b, e, t) - max_end.begin());
}

int64_t TraceModel::EventAt(int lane, double t, double slack_us, int depth) const {
  const Lane& l = lanes[size_t(lane)];
  uint32_t i = FirstVisible(lane, t - slack_us);
  int64_t best = -1;
  for (; i < l.end && events[i].ts <= t + slack_us; ++i) {
    const Event& e = events[i];
    if (e.End() + slack_us < t) continue;
    if (depth >= 0 && e.depth != depth) continue;
    if (best < 0 || e.depth > events[size_t(best)].depth ||
        (e.depth == events[size_t(best)].depth && std::abs(e.ts + e.dur / 2 - t) <
                                                      std::abs(events[size_t(best)].ts + events[size_t(best)].dur / 2 - t)))
      best = i;
  }
  return best;
}

const ScheduleConfig* TraceModel::Config() const {
  for (const FileInfo& f : files)
    if (f.ringlab && f.has_config) return &f.meta.config;
  return nullptr;
}

void VisibleBlocks(const TraceModel& m, int lane, double t0, double t1, double us_per_px, double min_px,
                   std::vector<LodBlock>* out) {
  out->clear();
  if (lane < 0 || size_t(lane) >= m.lanes.size()) return;
  const Lane& l = m.lanes[size_t(lane)];
  const double min_us = us_per_px * min_px;
  uint32_t i = m.FirstVisible(lane, t0);
  while (i < l.end) {
    const Event& e = m.events[i];
    if (e.ts > t1) break;
    if (e.dur >= min_us) {
      out->push_back({e.ts, e.End(), i, 1, e.kind, e.depth});
      ++i;
      continue;
    }
    // Fold: everything starting before ts + min_us goes into one block; jump there by binary search.
    double fold_end = e.ts + min_us;
    uint32_t j = uint32_t(std::lower_bound(m.events.begin() + i + 1, m.events.begin() + l.end, fold_end,
                                           [](const Event& x, double t) { return x.ts < t; }) -
                          m.events.begin());
    // A long event starting inside the fold stays visible on its own: stop the fold before it.
    LodBlock b{e.ts, std::max(fold_end, m.events[i].End()), i, j - i, e.kind, e.depth};
    // Long events inside [i, j) are rare; check only the running max to decide whether to scan.
    if (m.max_end[j - 1] > fold_end + min_us) {
      uint32_t k = i + 1;
      while (k < j && m.events[k].dur < min_us) ++k;
      b.count = k - i;
      j = k;
    }
    b.t1 = std::max(b.t0 + min_us, b.t1);
    out->push_back(b);
    i = j;
  }
}

std::vector<uint32_t> SearchByName(const TraceModel& m, std::string_view text, size_t limit) {
  std::vector<uint32_t> r;
  if (text.empty()) return r;
  std::vector<char> hit(m.names.size(), 0);
  auto lower = [](char c) { return char(std::tolower((unsigned char)c)); };
  for (size_t n = 0; n < m.names.size(); ++n) {
    const std::string& s = m.names[n];
    hit[n] = std::search(s.begin(), s.end(), text.begin(), text.end(),
                         [&](char a, char b) { return lower(a) == lower(b); }) != s.end();
  }
  for (uint32_t i = 0; i < m.events.size() && r.size() < limit; ++i)
    if (hit[m.events[i].name]) r.push_back(i);
  return r;
}

std::string FormatDuration(double us) {
  char b[64];
  double a = std::abs(us);
  if (a < 1) snprintf(b, sizeof b, "%.0f ns", us * 1e3);
  else if (a < 1e3) snprintf(b, sizeof b, "%.3g us", us);
  else if (a < 1e6) snprintf(b, sizeof b, "%.4g ms", us / 1e3);
  else snprintf(b, sizeof b, "%.4g s", us / 1e6);
  return b;
}

std::string FormatBytes(double bytes) {
  char b[64];
  if (bytes < 1024) snprintf(b, sizeof b, "%.0f B", bytes);
  else if (bytes < 1024.0 * 1024) snprintf(b, sizeof b, "%.1f KiB", bytes / 1024);
  else if (bytes < 1024.0 * 1024 * 1024) snprintf(b, sizeof b, "%.1f MiB", bytes / 1024 / 1024);
  else snprintf(b, sizeof b, "%.2f GiB", bytes / 1024 / 1024 / 1024);
  return b;
}

}  // namespace ringlab::viz
