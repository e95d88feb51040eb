#include <algorithm>
#include <cmath>
#include <cstdio>

#include "viz/model.h"

namespace ringlab::viz {

std::string_view VizKindName(VizKind k) {
  static constexpr std::string_view kNames[kVizKindCount] = {
      "attend", "send",   "recv",   "all-gather", "reduce-scatter", "merge",
      "copy",   "prepare", "all-to-all", "kernel", "comm",        "host"};
  return size_t(k) < kVizKindCount ? kNames[size_t(k)] : "?";
}

bool IsCommKind(VizKind k) {
  return k == VizKind::kSend || k == VizKind::kRecv || k == VizKind::kAllGather || k == VizKind::kReduceScatter ||
         k == VizKind::kAllToAll || k == VizKind::kCommOther;
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

uint32_t EventsStartingIn(const TraceModel& m, int lane, double t0, double t1) {
  if (lane < 0 || size_t(lane) >= m.lanes.size()) return 0;
  const Lane& l = m.lanes[size_t(lane)];
  auto less = [](const Event& x, double t) { return x.ts < t; };
  auto b = m.events.begin() + l.begin, e = m.events.begin() + l.end;
  auto a = std::lower_bound(b, e, t0, less);
  return uint32_t(std::lower_bound(a, e, t1, less) - a);
}

namespace {
// Keys are (row, kind): row = min(depth, kMaxRow), 16 kinds per row.
constexpr int kMaxRow = 5;
inline uint8_t KeyOf(const Event& e) { return uint8_t(std::min<int>(e.depth, kMaxRow) * 16 + int(e.kind)); }

const TraceModel::KindSums& SumsOf(const TraceModel& m, int lane) {
  if (m.kind_sums.size() != m.lanes.size()) m.kind_sums.assign(m.lanes.size(), {});
  TraceModel::KindSums& s = m.kind_sums[size_t(lane)];
  if (s.built) return s;
  const Lane& l = m.lanes[size_t(lane)];
  int slot[16 * (kMaxRow + 1)];
  std::fill(std::begin(slot), std::end(slot), -1);
  for (uint32_t i = l.begin; i < l.end; ++i) {
    const size_t k = KeyOf(m.events[i]);
    if (slot[k] < 0) slot[k] = int(s.kinds.size()), s.kinds.push_back(uint8_t(k));
  }
  const size_t K = s.kinds.size(), n = l.end - l.begin;
  // Sums only every kStride events (small enough to stay in cache); the rest from packed slot/duration arrays.
  s.cum.assign((n / TraceModel::KindSums::kStride + 1) * K, 0.0);
  s.ts.resize(n);
  s.slot.resize(n);
  s.dur.resize(n);
  std::vector<double> run(K, 0.0);
  for (size_t i = 0; i < n; ++i) {
    if (i % TraceModel::KindSums::kStride == 0) std::copy_n(run.begin(), K, &s.cum[i / TraceModel::KindSums::kStride * K]);
    const Event& e = m.events[l.begin + i];
    s.ts[i] = e.ts;
    s.slot[i] = uint8_t(slot[KeyOf(e)]);
    s.dur[i] = float(e.dur);
    run[size_t(slot[KeyOf(e)])] += e.dur;
  }
  if (n % TraceModel::KindSums::kStride == 0) std::copy_n(run.begin(), K, &s.cum[n / TraceModel::KindSums::kStride * K]);
  s.built = true;
  return s;
}
}  // namespace

void CoverageRuns(const TraceModel& m, int lane, int rows, double t0, double us_per_px, int columns,
                  std::vector<CoverageRun>* out) {
  out->clear();
  if (lane < 0 || size_t(lane) >= m.lanes.size() || columns <= 0 || !(us_per_px > 0)) return;
  const Lane& l = m.lanes[size_t(lane)];
  if (l.begin == l.end) return;
  rows = std::clamp(rows, 1, kMaxRow + 1);
  const TraceModel::KindSums& S = SumsOf(m, lane);
  const size_t K = S.kinds.size();
  int key_row[16 * (kMaxRow + 1)], slot_of_key[16 * (kMaxRow + 1)];
  std::fill(std::begin(slot_of_key), std::end(slot_of_key), -1);
  for (size_t k = 0; k < K; ++k) slot_of_key[S.kinds[k]] = int(k);
  for (int key = 0; key < 16 * (kMaxRow + 1); ++key) key_row[key] = std::min(key / 16, rows - 1);
  auto row_of = [&](const Event& e) { return std::min<int>(e.depth, rows - 1); };
  const Event* ev = m.events.data();
  const double* ts = S.ts.data();  // start times of the lane, compact: the column search touches only these
  const uint32_t n = l.end - l.begin;
  // i: first event (lane-relative) starting at or after the column's start.
  uint32_t i = uint32_t(std::lower_bound(ts, ts + n, t0) - ts);
  double tally[16 * (kMaxRow + 1)];
  int touching[kMaxRow + 1];
  uint32_t some[kMaxRow + 1];
  CoverageRun cur[kMaxRow + 1];
  bool open[kMaxRow + 1] = {};
  auto close = [&](int r) {
    if (open[r]) out->push_back(cur[r]), open[r] = false;
  };
  for (int c = 0; c < columns; ++c) {
    const double ta = t0 + c * us_per_px, tb = ta + us_per_px;
    if (i >= n && (i == 0 || m.max_end[l.begin + i - 1] <= ta)) break;  // past the lane's last event
    // j: first event starting at or after tb, found by galloping from i (columns move left to right).
    uint32_t j = i, step = 1;
    while (j < n && ts[j] < tb) {
      const uint32_t probe = std::min<uint32_t>(n, j + step);
      if (probe == n || ts[probe - 1] >= tb) {
        j = uint32_t(std::lower_bound(ts + j, ts + probe, tb) - ts);
        break;
      }
      j = probe, step *= 2;
    }
    std::fill(tally, tally + K, 0.0);
    std::fill(touching, touching + rows, 0);
    std::fill(some, some + rows, l.begin + i);
    // The part of earlier events reaching into this column (sequential lanes: those just before i). Skipped when
    // several events start in the column: the straddling ones' part is then small.
    if (j - i < 4 && i > 0 && m.max_end[l.begin + i - 1] > ta) {
      for (uint32_t k = l.begin + i, cnt = 0; k > l.begin && cnt < 32; --k, ++cnt) {
        const Event& e = ev[k - 1];
        const int r = row_of(e);
        if (e.End() > ta && touching[r] == 0) {
          tally[slot_of_key[KeyOf(e)]] += std::min(e.End(), tb) - ta;
          touching[r] = 1, some[r] = k - 1;
        }
      }
    }
    if (j > i) {
      // Sums of [i, j): from the stride checkpoints when the range is long, plus/minus the events past them.
      double part[16 * (kMaxRow + 1)];
      std::fill(part, part + K, 0.0);
      constexpr uint32_t kS = TraceModel::KindSums::kStride;
      const uint32_t ia = i / kS, ja = j / kS;
      if (ja > ia) {
        const double* a = &S.cum[ia * K];
        const double* b = &S.cum[ja * K];
        for (size_t k = 0; k < K; ++k) part[k] = b[k] - a[k];
        for (uint32_t e = ia * kS; e < i; ++e) part[S.slot[e]] -= S.dur[e];
        for (uint32_t e = ja * kS; e < j; ++e) part[S.slot[e]] += S.dur[e];
      } else {
        for (uint32_t e = i; e < j; ++e) part[S.slot[e]] += S.dur[e];
      }
      int starts[kMaxRow + 1] = {};
      for (size_t k = 0; k < K; ++k)
        if (part[k] > 0) tally[k] += part[k], ++starts[key_row[S.kinds[k]]];
      for (int r = 0; r < rows; ++r)
        if (starts[r]) touching[r] += (j - i == 1 && touching[r] == 0) ? 1 : 2;
    }
    i = j;
    for (int r = 0; r < rows; ++r) {
      if (touching[r] == 0) {
        close(r);
        continue;
      }
      int best = -1, ck = -1;
      for (size_t k = 0; k < K; ++k) {
        if (key_row[S.kinds[k]] != r) continue;
        if (best < 0 || tally[k] > tally[size_t(best)]) best = int(k);
        if (open[r] && S.kinds[k] % 16 == int(cur[r].kind) && tally[k] > 0) ck = int(k);
      }
      VizKind kind = VizKind(S.kinds[size_t(best)] % 16);
      // Hysteresis: the run keeps its kind while that kind has at least half the leader's time in the column.
      if (ck >= 0 && tally[size_t(ck)] * 2 >= tally[size_t(best)]) kind = cur[r].kind;
      const bool single = touching[r] == 1;
      if (open[r] && cur[r].kind == kind && cur[r].single == single && cur[r].c1 == c) {
        cur[r].c1 = c + 1;
      } else {
        close(r);
        cur[r] = CoverageRun{c, c + 1, kind, single, some[r], uint8_t(r)};
        open[r] = true;
      }
    }
  }
  for (int r = 0; r < rows; ++r) close(r);
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
