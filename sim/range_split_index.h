// Where neighbouring rank blocks' programs differ, for the rank-range engine (range_engine.h): for block size P
// (ranks u·P .. u·P + P − 1 form block u), the stream positions at which rank u·P + i runs a different op than rank
// (u+1)·P + i. A range of blocks in one dynamic state must split between u and u + 1 before any of its representative
// ranks reads such a position. Built from the program table's segments, so spliced tables cost O(W · ops near the
// junction), not O(W²).
//
//   RangeSplitIndex index;
//   if (index.Build(table, period, /*budget=*/400 * int64_t(world))) index.SplitUnits(i, s, pos, lo, hi, &units);
#pragma once

#include <cstdint>
#include <vector>

#include "sim/program_table.h"

namespace ringlab::sim {

class RangeSplitIndex {
 public:
  // False when comparing the programs would compare more than `budget` ops (the programs differ too widely).
  bool Build(const ProgramTable& table, int period, int64_t budget);
  // Appends the blocks u in [lo, hi − 1] whose rank u·P + i differs from rank (u+1)·P + i at `pos` of stream s.
  void SplitUnits(int i, int stream, int pos, int lo, int hi, std::vector<int32_t>* units) const;
  // The longest run of comm ops posted together (TryAdvance reads this far ahead of next[1]).
  int max_group() const { return max_group_; }
  int64_t compared_ops() const { return compared_; }

 private:
  // Positions of one (representative index, stream) with a difference somewhere: per position the blocks, sorted.
  struct Entry {
    int32_t pos, unit;
    bool operator<(const Entry& o) const { return pos != o.pos ? pos < o.pos : unit < o.unit; }
  };
  void CompareRanks(const ProgramTable& t, int a, int b, int stream, int unit, std::vector<Entry>* out);
  std::vector<std::vector<Entry>> diffs_;  // [i * 2 + stream]
  int period_ = 1;
  int max_group_ = 1;
  int64_t compared_ = 0;
};

}  // namespace ringlab::sim
