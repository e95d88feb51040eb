#include "core/start_order.h"

#include <algorithm>

namespace ringlab {

std::vector<std::vector<int32_t>> ListedStartWaits(const RankSchedule& rank) {
  const std::vector<Op>& ops = rank.ops;
  std::vector<std::vector<int32_t>> waits(ops.size());
  // Position of each comm op on the comm stream (the stream runs them one at a time, in this order).
  std::vector<int32_t> comm_pos(ops.size(), -1);
  int32_t n_comm = 0;
  for (const Op& op : ops)
    if (op.stream == StreamKind::kComm) comm_pos[op.id] = n_comm++;

  // Latest comm-stream position that every compute op so far (X included) waits for: everything at or before it on
  // the comm stream has finished when X starts.
  int32_t covered = -1;
  size_t after_previous_compute = 0;  // first list index after the previous compute op
  for (size_t x = 0; x < ops.size(); ++x) {
    const Op& op = ops[x];
    if (op.stream != StreamKind::kCompute) continue;
    for (int32_t d : op.deps)
      if (comm_pos[d] >= 0) covered = std::max(covered, comm_pos[d]);
    auto is_covered = [&](int32_t id) { return comm_pos[id] < 0 ? id < int32_t(x) : comm_pos[id] <= covered; };
    // Comm groups listed between the previous compute op and this one.
    for (size_t i = after_previous_compute; i < x;) {
      size_t j = i + 1;
      if (ops[i].stream != StreamKind::kComm) {
        i = j;
        continue;
      }
      if (ops[i].group >= 0)
        while (j < x && ops[j].stream == StreamKind::kComm && ops[j].group == ops[i].group) ++j;
      bool free_start = true;
      const int32_t before = comm_pos[ops[i].id] - 1;  // the comm op the stream runs before this group
      if (before >= 0 && before > covered) free_start = false;
      for (size_t g = i; g < j && free_start; ++g)
        for (int32_t d : ops[g].deps)
          if (!is_covered(d)) free_start = false;
      if (free_start) waits[x].push_back(ops[j - 1].id);
      i = j;
    }
    after_previous_compute = x + 1;
  }
  return waits;
}

}  // namespace ringlab
