// Simulates the PyTorch Context Parallel runs of bench/peer/README.md with a profile that describes the peer's
// implementation (FlashAttention-2 kernel rates as measured, separate merge kernels, packed K/V copies) and prints
// a markdown table of simulated against measured times with the error per row.
//
//   sim_vs_peer [--profile h100_pytorch_peer] [--out bench/results/sim_vs_peer.md]
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "sim/simulate.h"

using namespace ringlab;

struct PeerRow {
  int world;
  int64_t seq;
  Method method;
  double fwd_ms, fwdbwd_ms;
};

// ANCHORS.md, "PyTorch Context Parallel (FLASH backend, load balancing on)".
constexpr PeerRow kRows[] = {
    {2, 32768, Method::kAllGather, 14.87, 56.04},  {2, 32768, Method::kAllToAll, 15.12, 56.35},
    {2, 131072, Method::kAllGather, 214.7, 782.5}, {2, 131072, Method::kAllToAll, 211.2, 779.6},
    {4, 32768, Method::kAllGather, 9.47, 33.65},   {4, 32768, Method::kAllToAll, 10.36, 34.63},
    {4, 131072, Method::kAllGather, 110.5, 409.0}, {4, 131072, Method::kAllToAll, 109.8, 409.9},
    {2, 8192, Method::kAllGather, 1.96, 6.90},     {2, 8192, Method::kAllToAll, 1.91, 6.87},
};

int main(int argc, char** argv) {
  std::string profile = "h100_pytorch_peer", out;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--profile")) profile = argv[i + 1];
    else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
  }
  sim::HardwareProfile hw;
  Status st = sim::LoadProfile(profile, &hw);
  if (!st.ok()) {
    std::cerr << st.message() << "\n";
    return 2;
  }
  std::ostringstream md;
  md << "| W | S | method | peer fwd ms | sim fwd ms | error | peer fwd+bwd ms | sim fwd+bwd ms | error |\n"
        "|---|---|---|---|---|---|---|---|---|\n";
  double sum_abs = 0, max_abs = 0;
  int n = 0;
  char buf[512];
  for (const PeerRow& row : kRows) {
    double ms[2];
    for (int p = 0; p < 2; ++p) {
      ScheduleConfig cfg;
      cfg.problem = Problem{.batch = 1, .heads = 32, .kv_heads = 32, .seq = row.seq, .head_dim = 128};
      cfg.world = row.world;
      cfg.method = row.method;
      cfg.pass = p == 0 ? Pass::kForward : Pass::kBackward;
      cfg.variants = PeerVariants();
      sim::SimResult r;
      st = sim::Simulate(cfg, hw, {}, &r);
      if (!st.ok()) {
        std::cerr << st.message() << "\n";
        return 1;
      }
      ms[p] = r.summary.step_time_us / 1e3;
    }
    const double fwd = ms[0], fb = ms[0] + ms[1];
    const double e1 = 100 * (fwd / row.fwd_ms - 1), e2 = 100 * (fb / row.fwdbwd_ms - 1);
    snprintf(buf, sizeof buf, "| %d | %lld | %s | %.2f | %.2f | %+.1f%% | %.1f | %.1f | %+.1f%% |\n", row.world,
             (long long)row.seq, std::string(MethodName(row.method)).c_str(), row.fwd_ms, fwd, e1, row.fwdbwd_ms, fb,
             e2);
    md << buf;
    if (row.seq >= 32768) {
      for (double e : {e1, e2}) sum_abs += std::fabs(e), max_abs = std::max(max_abs, std::fabs(e)), ++n;
    }
  }
  snprintf(buf, sizeof buf, "\nRequired rows (S = 32768, 131072): mean |error| %.1f%%, max |error| %.1f%% (profile %s)\n",
           sum_abs / n, max_abs, hw.name.c_str());
  md << buf;
  std::cout << md.str();
  if (!out.empty()) std::ofstream(out) << md.str();
  return 0;
}
