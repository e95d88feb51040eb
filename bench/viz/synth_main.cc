// viz-synth: writes synthetic ringlab traces for the viewer's tests, benchmarks and README picture.
//   viz-synth OUT.json [--world W] [--method alltoall|allgather] [--copies N] [--jitter J] [--seed S]
//             [--source sim|real] [--seq TOKENS]
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "core/trace.h"
#include "viz/synth.h"

using namespace ringlab;

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::cerr << "usage: viz-synth OUT.json [--world W] [--method alltoall|allgather] [--copies N] [--jitter J]"
                 " [--seed S] [--source sim|real] [--seq TOKENS]\n";
    return 2;
  }
  ScheduleConfig cfg{.problem = DefaultProblem(), .world = 8};
  viz::SynthOptions o;
  int copies = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--world") cfg.world = std::atoi(v.c_str());
    else if (a == "--method") {
      auto m = ParseMethod(v);
      if (!m) return std::cerr << "bad method\n", 2;
      cfg.method = *m;
    } else if (a == "--copies") copies = std::atoi(v.c_str());
    else if (a == "--jitter") o.jitter = std::atof(v.c_str());
    else if (a == "--seed") o.seed = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--source") o.source = v;
    else if (a == "--seq") cfg.problem.seq = std::atoll(v.c_str());
    else return std::cerr << "unknown option " << a << "\n", 2;
  }
  Trace t;
  Status s = viz::SynthTrace(cfg, o, &t);
  if (!s.ok()) return std::cerr << s.message() << "\n", 2;
  if (copies > 1) t = viz::RepeatTrace(t, copies);
  s = WriteTraceJson(t, argv[1]);
  if (!s.ok()) return std::cerr << s.message() << "\n", 2;
  std::printf("%s: %zu events\n", argv[1], t.events.size());
  return 0;
}
