// How schedule generation scales: ops generated per second of CPU time, for growing world sizes.
// Prints a markdown table; CPU time (not wall time) so a busy machine does not distort the figures.
#include <cstdio>
#include <ctime>

#include "core/schedule.h"

namespace {

double CpuSeconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

int main() {
  using namespace ringlab;
  std::printf("| method | pass | W | ops | generation ms (CPU) | ns per op |\n|---|---|---|---|---|---|\n");
  for (Method m : {Method::kAllToAll, Method::kAllGather})
    for (Pass pass : {Pass::kForward, Pass::kBackward})
      for (int w : {64, 256, 1024, 2048}) {
        ScheduleConfig cfg{.problem = Problem{.seq = int64_t(w) * 256}, .world = w, .method = m, .pass = pass};
        double best = 1e30;
        int64_t ops = 0;
        for (int rep = 0; rep < 3; ++rep) {
          const double t0 = CpuSeconds();
          Schedule s;
          if (!BuildSchedule(cfg, &s).ok()) return 1;
          best = std::min(best, CpuSeconds() - t0);
          ops = s.OpCount();
        }
        std::printf("| %s | %s | %d | %lld | %.1f | %.0f |\n", std::string(MethodName(m)).c_str(),
                    std::string(PassName(pass)).c_str(), w, (long long)ops, best * 1e3, best * 1e9 / ops);
        std::fflush(stdout);
      }
  return 0;
}
