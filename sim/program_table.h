// Every rank's compiled program (rank_program.h) for one run, stored in O(W) memory even when every rank's program is
// distinct.
//
// Ranks that run equal programs share one copy (a ring whose blocks all cost the same). When they differ, it is
// because of the causal head-tail / contiguous block orientation: at ring step t rank r handles origin r − t, which is
// an "earlier" origin (A) for 1 ≤ t ≤ r and a "later" one (B) after, so rank r's op list is that of rank W−1 (all A)
// up to step r and that of rank 0 (all B) after it, except for a few junction steps whose dependencies still point back
// into the A steps. Such ranks are stored as splices: up to three segments per stream that point into whole compiled
// sources (rank W−1, rank 0, and a middle rank m for the junction's dependencies), with position and op id shifts.
// Compile is then O(W) (a handful of ranks compiled whole) instead of O(W²). BuildProgramTable checks the splice
// against whole compiles of a deterministic sample of ranks and compiles every rank when any differs.
//
//   ProgramTable t = BuildProgramTable(cfg, hw, traced, share_probe_above);
//   SimOp op = t.Op(rank, /*stream=*/0, pos);
#pragma once

#include <cstdint>
#include <vector>

#include "core/schedule.h"
#include "sim/profile.h"
#include "sim/rank_program.h"

namespace ringlab::sim {

class ProgramTable;
ProgramTable BuildProgramTable(const ScheduleConfig& cfg, const HardwareProfile& hw, int share_probe_above,
                               int64_t* schedule_op_count);

class ProgramTable {
 public:
  ProgramTable() = default;
  // Every rank r runs programs[program_of[r]].
  ProgramTable(std::vector<RankProgram> programs, std::vector<uint32_t> program_of);

  int world() const { return int(ranks_.size()); }
  // The op at `pos` of rank `rank`'s stream (0 compute, 1 comm): a reference into the table, or, for an op whose
  // dependencies are shifted, to `*scratch` filled with it.
  const SimOp& Op(int rank, int stream, int pos, SimOp* scratch) const {
    if (!spliced_) return WholeOp(rank, stream, pos);  // the common case, kept compact
    const Segment* s = &ranks_[rank].seg[stream][0];
    while (pos >= s->end) ++s;
    const SimOp& body = sources_[s->body_src].streams[stream][s->body_begin + pos - s->begin];
    if (s->plain) return body;
    *scratch = Shifted(*s, stream, pos, body);
    return *scratch;
  }
  SimOp Op(int rank, int stream, int pos) const {
    SimOp scratch;
    return Op(rank, stream, pos, &scratch);
  }
  int32_t Size(int rank, int stream) const {
    return spliced_ ? ranks_[rank].size[stream] : int32_t(sources_[program_of_[rank]].streams[stream].size());
  }
  // Unspliced tables only: the op, from the rank's whole program.
  const SimOp& WholeOp(int rank, int stream, int pos) const { return sources_[program_of_[rank]].streams[stream][pos]; }
  int64_t OpCount(int rank) const { return int64_t(Size(rank, 0)) + Size(rank, 1); }
  double Flops(int rank) const { return ranks_[rank].flops; }
  int64_t MemoryBytes(int rank) const { return ranks_[rank].memory_bytes; }
  // Equal ids mean equal programs (spliced ranks get ids of their own).
  uint32_t ProgramId(int rank) const { return ranks_[rank].id; }
  int DistinctPrograms() const { return distinct_; }
  // The whole compiled programs the ranks point into (every op kind and peer offset any rank uses is in them).
  const std::vector<RankProgram>& sources() const { return sources_; }
  bool shared_by_sample() const { return shared_by_sample_; }
  bool spliced() const { return spliced_; }

 private:
  friend class ProgramTableBuilder;
  friend class ComputeSuffixIndex;
  friend class RangeSplitIndex;  // range_split_index.h: compares neighbouring ranks segment by segment
  friend ExtrapolationTally TallyRanks(const ProgramTable& table, int* first_rank);  // phased_run.cc: sums and checks over a rank's compute ops, segment by segment
  friend ProgramTable BuildProgramTable(const ScheduleConfig&, const HardwareProfile&, int, int64_t*);
  static constexpr int kMaxSegments = 3;
  // Target positions [begin, end) of one stream: op bodies (kind, cost, tag, peer) from body_src at body_begin on,
  // dependencies and op ids from dep_src at dep_begin on, shifted (a need of 0 stays 0: no dependency).
  struct Segment {
    int32_t begin = 0, end = 0;
    uint32_t body_src = 0, dep_src = 0;
    int32_t body_begin = 0, dep_begin = 0;
    int32_t shift_done[kStreamCount] = {0, 0};
    int32_t shift_posted = 0, shift_id = 0;
    bool plain = true;  // a copy of body_src with no shift
  };
  struct RankEntry {
    Segment seg[kStreamCount][kMaxSegments];
    int32_t size[kStreamCount] = {0, 0};
    double flops = 0;
    int64_t memory_bytes = 0;
    uint32_t id = 0;
  };
  SimOp Shifted(const Segment& s, int stream, int pos, const SimOp& body) const;
  void SetWhole(int rank, uint32_t src);

  std::vector<RankProgram> sources_;
  std::vector<RankEntry> ranks_;
  std::vector<uint32_t> program_of_;  // unspliced tables: per rank, its source
  int distinct_ = 0;
  bool shared_by_sample_ = false, spliced_ = false;
};

// Compiles every rank of `cfg` (see the file comment). `share_probe_above`: W above which the sampled checks (shared
// program, splice) are tried at all; 0 compiles every rank whole (the reference the others are tested against).
// `schedule_op_count` receives the total op count.
ProgramTable BuildProgramTable(const ScheduleConfig& cfg, const HardwareProfile& hw, int share_probe_above,
                               int64_t* schedule_op_count);

// FNV-1a over a program's ops (equal programs hash equal).
uint64_t HashProgram(const RankProgram& p);

// A deterministic sample of ranks for the sampled checks (always 0, 1, 2, W/2, W−2, W−1 and ten more).
std::vector<int> SampleRanks(int world);

// The extrapolation tallies of all ranks (rank order), as TallyRanks does for whole programs: unspliced tables
// weight each source's own tally by its ranks; spliced ranks are tallied op by op. `first_rank` (optional): the
// first rank with an extrapolated op, or −1.
ExtrapolationTally TallyRanks(const ProgramTable& table, int* first_rank);

}  // namespace ringlab::sim
