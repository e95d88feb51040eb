// The flags of `ringlab sim` and `ringlab sweep` beyond the common ones (topology, grid lists) and their translation
// into the simulator's types. Shared by the CLI (apps/cmd_sim.cc) and the Python module (python/src), so both accept
// and reject the same values with the same messages.
#pragma once

#include <climits>
#include <string>
#include <vector>

#include "apps/common_options.h"
#include "core/status.h"
#include "sim/profile.h"
#include "sim/sweep.h"
#include "sim/topology.h"

namespace ringlab::cli {

inline constexpr int kNotGiven = INT_MIN;  // a flag left out: its default applies (a given 0 is an error)

// --profile: a bundled name or a .json path, loaded as `ringlab sim` loads it; an error names the flag.
Status LoadProfileFlag(const std::string& profile, sim::HardwareProfile* hw);

// A comma-separated list of positive integers ("8,16,64"); errors name `flag` and the item.
template <typename T>
Status ParseList(const std::string& flag, const std::string& text, std::vector<T>* out);

// --nodes, --gpus-per-node (kNotGiven: the default) and --placement (block | round-robin).
Status ParseTopology(int nodes, int gpn, const std::string& placement, sim::TopologyConfig* t);

// A sweep's grid lists as typed: --worlds, --seqs, --methods, --passes.
struct SweepLists {
  std::string worlds, seqs, methods, passes;
};

// Fills spec->base (the common flags; world, seq, method and pass come from the lists), worlds, seqs, methods,
// passes and mask_for_seq (a mask with documents, drawn per seq). Leaves topology, workers and shards alone.
Status MakeSweepGrid(const CommonOptions& common, const SweepLists& lists, sim::SweepSpec* spec);

}  // namespace ringlab::cli
