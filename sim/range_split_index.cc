#include "sim/range_split_index.h"

#include <algorithm>

namespace ringlab::sim {

void RangeSplitIndex::CompareRanks(const ProgramTable& t, int a, int b, int s, int unit, std::vector<Entry>* out) {
  const int na = t.Size(a, s), nb = t.Size(b, s);
  const int n = std::min(na, nb);
  for (int pos = n; pos < std::max(na, nb); ++pos) out->push_back({pos, unit});  // one has an op, the other none
  if (!t.spliced()) {
    if (t.ProgramId(a) == t.ProgramId(b)) return;
    for (int pos = 0; pos < n; ++pos, ++compared_)
      if (!(t.WholeOp(a, s, pos) == t.WholeOp(b, s, pos))) out->push_back({pos, unit});
    return;
  }
  // Walk both ranks' segments together; a stretch where both map to the same source ops the same way is equal.
  const ProgramTable::Segment* sa = &t.ranks_[a].seg[s][0];
  const ProgramTable::Segment* sb = &t.ranks_[b].seg[s][0];
  int pos = 0;
  while (pos < n) {
    while (pos >= sa->end) ++sa;
    while (pos >= sb->end) ++sb;
    const int end = std::min({sa->end, sb->end, n});
    const bool same = sa->plain == sb->plain && sa->body_src == sb->body_src &&
                      sa->body_begin - sa->begin == sb->body_begin - sb->begin &&
                      (sa->plain || (sa->dep_src == sb->dep_src && sa->dep_begin - sa->begin == sb->dep_begin - sb->begin &&
                                     sa->shift_done[0] == sb->shift_done[0] && sa->shift_done[1] == sb->shift_done[1] &&
                                     sa->shift_posted == sb->shift_posted && sa->shift_id == sb->shift_id));
    if (!same)
      for (int p = pos; p < end; ++p, ++compared_)
        if (!(t.Op(a, s, p) == t.Op(b, s, p))) out->push_back({p, unit});
    pos = end;
  }
}

bool RangeSplitIndex::Build(const ProgramTable& t, int period, int64_t budget) {
  const int w = t.world();
  period_ = period;
  diffs_.assign(size_t(2 * period), {});
  compared_ = 0;
  const int units = w / period;
  for (int u = 0; u + 1 < units; ++u)
    for (int i = 0; i < period; ++i)
      for (int s = 0; s < kStreamCount; ++s) {
        CompareRanks(t, u * period + i, (u + 1) * period + i, s, u, &diffs_[size_t(2 * i + s)]);
        if (compared_ > budget) return false;
      }
  for (auto& d : diffs_) std::sort(d.begin(), d.end());
  max_group_ = 1;
  for (const RankProgram& p : t.sources()) {
    int run = 1;
    for (const SimOp& op : p.streams[1]) {
      max_group_ = std::max(max_group_, run);
      run = op.group_with_next ? run + 1 : 1;
    }
  }
  return true;
}

void RangeSplitIndex::SplitUnits(int i, int s, int pos, int lo, int hi, std::vector<int32_t>* units) const {
  const std::vector<Entry>& d = diffs_[size_t(2 * i + s)];
  auto it = std::lower_bound(d.begin(), d.end(), Entry{pos, lo});
  for (; it != d.end() && it->pos == pos && it->unit < hi; ++it) units->push_back(it->unit);
}

}  // namespace ringlab::sim
