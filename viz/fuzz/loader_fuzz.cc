// libFuzzer target for the trace loader: any bytes must give a model or a Status, never a crash or a hang.
//   cmake -DRINGLAB_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ninja viz_loader_fuzz
//   ./viz/fuzz/viz_loader_fuzz -max_total_time=600 viz/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "viz/deps.h"
#include "viz/model.h"
#include "viz/stats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringlab::viz::TraceModel m;
  ringlab::Status s =
      ringlab::viz::LoadTraceBuffer(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz", &m);
  if (!s.ok() || m.empty()) return 0;
  // Exercise the index on what loaded.
  std::vector<ringlab::viz::LodBlock> blocks;
  for (int l = 0; l < int(m.lanes.size()); ++l)
    ringlab::viz::VisibleBlocks(m, l, m.t_min, m.t_max, (m.t_max - m.t_min) / 500 + 1e-9, 2, &blocks);
  ringlab::viz::ComputeWindowStats(m, m.t_min, m.t_max);
  ringlab::viz::DepGraph g(m);
  g.DepsOf(0);
  g.DependantsOf(uint32_t(m.events.size() - 1));
  return 0;
}
