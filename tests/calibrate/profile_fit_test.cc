// FitProfile on synthetic samples drawn from known hardware: the fit must give the numbers back.
#include "calibrate/fit/profile_fit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "calibrate/calibration_plan.h"
#include "calibrate/samples.h"
#include "sim/profile.h"
#include "sim/simulate.h"

namespace ringlab::calibrate {
namespace {

using sim::AttentionTable;
using sim::HardwareProfile;
using sim::ParseProfile;
using sim::WaveModel;

nlohmann::json Base() {
  std::ifstream f(std::string(RINGLAB_SOURCE_DIR) + "/sim/profiles/h100_sxm.json");
  return nlohmann::json::parse(f);
}

// The "true" forward kernel: 2 CTAs per SM, a round of CTAs with n tiles costs 2·(n + 4)·1.5 us, one resident CTA
// runs at 0.7 of a pair's throughput.
WaveModel TrueForward(int sms) {
  WaveModel w;
  w.enabled = true;
  w.grid_kv = false;
  w.tile_q = 128;
  w.tile_kv = 64;
  w.sms = sms;
  w.ctas_per_sm = 2;
  w.tile_us = 1.5;
  w.cta_overhead_tiles = 4;
  w.single_resident_throughput = 0.7;
  return w;
}

FitInputs Synthetic(WaveModel* causal_truth = nullptr) {
  FitInputs in;
  in.sms = 132;
  const WaveModel truth = TrueForward(in.sms);
  // Microbenchmark-like shapes: block sides 1K..16K, 1..32 heads (partial and many rounds).
  for (int64_t q : {1024, 4096, 16384})
    for (int64_t kv : {1024, 2048, 4096, 8192, 16384})
      for (int h : {1, 8, 32}) {
        const double pairs = double(q) * kv;
        in.kernels.push_back({"forward", "full", 128, 1, h, h, q, kv, 0, pairs, truth.KernelUs(q, kv, pairs, h, 1, 1)});
  // Causal (square, diagonal 0) blocks: the same CTAs with their unequal loops, each tile 1.2x dearer (masking).
  WaveModel causal = truth;
  causal.tile_us *= 1.2;
  for (int64_t s : {1024, 4096, 16384})
    for (int h : {1, 8, 32})
      in.kernels.push_back({"forward", "causal", 128, 1, h, h, s, s, 0, double(s) * s / 2,
                            causal.CausalKernelUs(s, s, 0, h, 1, 1)});
  if (causal_truth) *causal_truth = causal;
      }
  // NVLink alone: 10 us + bytes / 400 GB/s; beside attention kernels at 0.25 of that rate.
  for (int64_t mib : {1, 4, 16, 64, 256}) {
    const int64_t b = mib << 20;
    for (int rep = 0; rep < 3; ++rep) {
      in.transfers.push_back({"p2p", 2, b, 10 + b / 100e3, true});
      in.transfers.push_back({"p2p", 2, b, 10 + b / 400e3, false});
      in.transfers.push_back({"p2p", 2, b, 10 + b / 80e3, true, "backward"});  // beside a backward kernel: slower
    }
    // NCCL's kernel occupies 8 SMs up to 64 MiB, then 16 (more channels); a ring and an all-gather never fewer.
    in.nccl_held.push_back({"p2p", 2, b, mib <= 64 ? 8 : 16});
    // A 4-rank all-gather of b bytes beside attention: 3 ring steps of b/3 bytes, each 5 us more than a transfer.
    in.transfers.push_back({"all-gather", 4, b, 3 * (10 + 5 + (b / 3.0) / 100e3), true});
  }
  for (int64_t mib : {16, 64}) in.memory.push_back({"merge", mib << 20, (mib << 20) / 2500e3});
  in.memory.push_back({"merge", 32 << 20, (32 << 20) / 2500e3});
  // Transfers posted while a kernel runs start when 80% of its remaining time has passed.
  for (double left : {400.0, 800.0, 1600.0})  // at least twice the transfer's 178 us: a wait is told from a slow transfer
    in.start_waits.push_back({16 << 20, left, 0.8 * left + 10 + (16 << 20) / 100e3, 1024});
  // A kernel with fewer CTAs than SMs leaves NCCL room: such samples (no wait at all here) are not the wait's.
  for (double left : {100.0, 300.0}) in.start_waits.push_back({16 << 20, left, 10 + (16 << 20) / 100e3, 64});
  in.launch_gaps_us = {3, 2.5, 4, 3, 60};
  in.start_skews_us = {{"backward", 40}, {"backward", 70}, {"backward", 50}, {"forward", 1}};  // 1 forward: too few  // one host hiccup: the median ignores it
  in.overlap_us = {{100, 103}, {200, 206}, {50, 51.5}};
  in.provenance = {{"card", "synthetic"}};
  return in;
}

TEST(ProfileFit, RecoversSyntheticHardware) {
  WaveModel causal;
  const FitInputs in = Synthetic(&causal);
  nlohmann::json profile, report;
  FitOptions opt;
  opt.name = "synthetic_fit";
  opt.tag = "TEST";
  ASSERT_TRUE(FitProfile(in, Base(), opt, &profile, &report).ok());
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(profile, "fitted", &hw).ok());
  EXPECT_EQ(hw.name, "synthetic_fit");
  EXPECT_DOUBLE_EQ(hw.launch_us, 3);
  EXPECT_DOUBLE_EQ(hw.backward_start_skew_us, 50);
  EXPECT_DOUBLE_EQ(hw.forward_start_skew_us, 0);  // one sample is too few: the base has none
  EXPECT_NEAR(hw.comm_slowdown, 0.03, 1e-4);
  EXPECT_NEAR(hw.comm_start_wait, 0.8, 1e-3);
  EXPECT_NEAR(hw.nvlink_gbps, 400, 0.5);
  EXPECT_NEAR(hw.nvlink_latency_us, 10, 0.05);
  // Beside kernels: the whole measured time alone / beside, median over sizes (16 MiB's here: the ratio falls with size).
  const double b16 = 16 << 20;
  EXPECT_NEAR(hw.comm_rate_beside_compute, (10 + b16 / 400e3) / (10 + b16 / 100e3), 1e-4);  // profiles keep 4 digits
  EXPECT_NEAR(hw.backward_comm_rate_beside_compute, (10 + b16 / 400e3) / (10 + b16 / 80e3), 1e-4);
  EXPECT_NEAR(hw.BesideRate(/*forward=*/false), hw.backward_comm_rate_beside_compute, 0);
  // The idle times per size are kept as the pair table; between sizes the time is interpolated in log-log.
  ASSERT_EQ(hw.p2p_time_pair_us.size(), 5u);
  EXPECT_NEAR(hw.P2pTimeUs(/*ring=*/false, 16 << 20), 10 + b16 / 400e3, 1e-6);
  EXPECT_NEAR(hw.P2pTimeUs(/*ring=*/true, 16 << 20), 10 + b16 / 400e3, 1e-6) << "no ring table: the pair's";
  const double t4 = 10 + (4 << 20) / 400e3, t16 = 10 + b16 / 400e3;
  EXPECT_NEAR(hw.P2pTimeUs(false, 8 << 20), std::sqrt(t4 * t16), 1e-6);  // geometric mean halfway in log size
  // SMs NCCL occupies: the table's value at the largest measured size at or below the transfer.
  EXPECT_EQ(hw.HeldSmsFor(false, false, 64 << 20), 8);
  EXPECT_EQ(hw.HeldSmsFor(false, false, 100 << 20), 8);
  EXPECT_EQ(hw.HeldSmsFor(false, false, 256 << 20), 16);
  EXPECT_EQ(hw.HeldSmsFor(false, false, 1000), 8) << "below the table: its first size";
  EXPECT_NEAR(hw.collective_hop_latency_us, 15, 0.05);  // the step's 10 us link latency + 5 us
  EXPECT_NEAR(hw.merge_gbps, 2500, 1);
  const AttentionTable* t = hw.FindTable("forward", "full", 128);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->wave.enabled);
  ASSERT_FALSE(t->wave.round_us.empty());
  EXPECT_NEAR(t->wave.single_resident_throughput, 0.7, 1e-9);
  EXPECT_LT(report["attention forward full 128"]["median_abs_error"].get<double>(), 1e-3);
  // Shapes the samples never had: between measured n (interpolated in log n) and beyond (steady tile rate).
  const WaveModel truth = TrueForward(132);
  for (auto [q, kv, h] : {std::tuple{8192, 3072, 16}, {2048, 12288, 4}, {65536, 32768, 8}, {131072, 131072, 8}}) {
    const double pairs = double(q) * kv;
    const double want = truth.KernelUs(q, kv, pairs, h, 1, 1);
    const double got = t->wave.KernelUs(q, kv, pairs, h, 1, 1);
    EXPECT_NEAR(got / want, 1.0, 0.03) << "q=" << q << " kv=" << kv << " h=" << h;
  }
  // Causal: the full table times the masking factor; a held-out causal shape is predicted through list scheduling.
  const AttentionTable* c = hw.FindTable("forward", "causal", 128);
  ASSERT_NE(c, nullptr);
  EXPECT_NEAR(report["attention forward causal 128"]["causal_factor_on_full"].get<double>(), 1.2, 0.03);
  for (auto [s, h] : {std::pair{8192, 8}, {32768, 4}, {2048, 16}}) {
    const double want = causal.CausalKernelUs(s, s, 0, h, 1, 1);
    EXPECT_NEAR(c->wave.CausalKernelUs(s, s, 0, h, 1, 1) / want, 1.0, 0.03) << "causal s=" << s << " h=" << h;
  }
  // Untouched numbers keep the base's value and source.
  EXPECT_EQ(profile["network"]["nic_gbps"], Base()["network"]["nic_gbps"]);
  EXPECT_EQ(profile["provenance"]["card"], "synthetic");
}

// Fits `in` onto the base profile and parses the result.
HardwareProfile FitAndParse(const FitInputs& in) {
  nlohmann::json profile, report;
  FitOptions opt;
  opt.tag = "TEST";
  EXPECT_TRUE(FitProfile(in, Base(), opt, &profile, &report).ok());
  HardwareProfile hw;
  EXPECT_TRUE(ParseProfile(profile, "fitted", &hw).ok());
  return hw;
}

// Forward step of pure Ulysses U = W = 4 on one node, and whether its all-to-all costs were extrapolated.
double UlyssesStepUs(const HardwareProfile& hw, bool* extrapolated) {
  ScheduleConfig cfg{.problem = {.heads = 8, .kv_heads = 4, .seq = 16384, .head_dim = 128}, .world = 4, .ulysses = 4};
  sim::SimResult r;
  EXPECT_TRUE(sim::Simulate(cfg, hw, sim::SimOptions{}, &r).ok());
  *extrapolated = r.alltoall_extrapolated;
  return r.summary.step_time_us;
}

TEST(ProfileFit, MeasuredAllToAllBecomesTheSimulatorsTable) {
  WaveModel causal;
  FitInputs in = Synthetic(&causal);
  bool extrapolated = false;
  const double line_us = UlyssesStepUs(FitAndParse(in), &extrapolated);
  EXPECT_TRUE(extrapolated) << "no all-to-all samples: the NVLink line, reported as extrapolated";
  // Every CommPlan all-to-all on 8 GPUs, 4 samples each, at 300 us + bytes / 100 GB/s (slower than the 400 GB/s line);
  // a smaller all-to-all on 2 GPUs is ignored (the table is the largest group's).
  for (const CommCase& c : CommPlan(8, false)) {
    if (c.pattern != "alltoall") continue;
    for (int k = 0; k < 4; ++k) in.transfers.push_back({"alltoall", 8, c.sample_bytes, 300 + c.sample_bytes / 100e3 + k});
    in.transfers.push_back({"alltoall", 2, c.sample_bytes, 1});
  }
  const HardwareProfile hw = FitAndParse(in);
  ASSERT_EQ(hw.alltoall_time_us.size(), MessageSizes(false).size());
  const double b16 = 16 << 20;
  EXPECT_NEAR(hw.AllToAllTimeUs(16 << 20), 300 + b16 / 100e3 + 1.5, 1e-3);  // the median of k = 0..3
  const double measured_us = UlyssesStepUs(hw, &extrapolated);
  EXPECT_FALSE(extrapolated);
  EXPECT_GT(measured_us, line_us + 4 * 250) << "four all-to-alls, each at least 250 us slower than the line";
}

TEST(CalibrationPlan, ListsTheAllToAllForTwoOrMoreGpus) {
  EXPECT_TRUE(CommPlan(1, false).empty());
  for (int gpus : {2, 4, 8}) {
    int alltoalls = 0;
    for (const CommCase& c : CommPlan(gpus, true)) {
      if (c.pattern != "alltoall") continue;
      ++alltoalls;
      EXPECT_EQ(c.ranks, gpus);
      EXPECT_LE(c.message_bytes * (gpus - 1), c.sample_bytes);  // one part to every other member
      EXPECT_GT(c.message_bytes * gpus, c.sample_bytes);
    }
    EXPECT_EQ(alltoalls, int(MessageSizes(true).size())) << gpus << " GPUs";
  }
}

TEST(ProfileFit, FindsCtasPerSmFromTheCalibrationPlansCtaSweep) {
  // Samples at exactly the shapes `ringlab calibrate` plans, timed on the synthetic kernel (2 CTAs per SM, θ 0.7);
  // the fit is not told the occupancy.
  PlanOptions po;
  FitInputs in;
  in.forward.ctas_per_sm = 0;
  const WaveModel truth = TrueForward(in.sms);
  for (const KernelCase& c : KernelPlan(po)) {
    if (c.pass != "forward" || c.mask != "full" || c.head_dim != 128) continue;
    const double us = truth.KernelUs(c.q, c.kv, c.Pairs(), c.heads, c.batch, 1);
    const std::vector<double> times = {us * 1.01, us, us * 0.98};
    in.kernels.push_back(ToSample(c, times));
  }
  ASSERT_GE(in.kernels.size(), 15u);
  nlohmann::json profile, report;
  ASSERT_TRUE(FitProfile(in, Base(), FitOptions{}, &profile, &report).ok());
  EXPECT_EQ(report["attention forward full 128"]["ctas_per_sm"], 2);
  EXPECT_NEAR(report["attention forward full 128"]["single_resident_throughput"].get<double>(), 0.7, 1e-9);
  EXPECT_LT(report["attention forward full 128"]["median_abs_error"].get<double>(), 1e-6);
}

TEST(ProfileFit, NcclSmsFromKernelsTimedBesideTraffic) {
  // Kernels timed alone (the table) and beside traffic that held 8 SMs for all or half of their time.
  FitInputs in = Synthetic();
  in.overlap_us.clear();
  const WaveModel truth = TrueForward(in.sms);
  WaveModel fewer = truth;
  fewer.sms -= 8;
  for (auto [q, kv, h, f] : {std::tuple{4096, 4096, 8, 1.0}, {8192, 8192, 32, 1.0}, {4096, 16384, 16, 0.5},
                             {2048, 8192, 17, 1.0}, {16384, 2048, 4, 0.5}}) {
    const double pairs = double(q) * kv;
    const double alone = truth.KernelUs(q, kv, pairs, h, 1, 1), shared = fewer.KernelUs(q, kv, pairs, h, 1, 1);
    const double sd = shared / alone - 1;
    in.beside_kernels.push_back({{"forward", "full", 128, 1, h, h, q, kv, 0, pairs, alone / (1 - f * sd / (1 + sd))}, f});
  }
  nlohmann::json profile, report;
  ASSERT_TRUE(FitProfile(in, Base(), FitOptions{}, &profile, &report).ok());
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(profile, "fitted", &hw).ok());
  // Between 5 and 8 SMs every one of these shapes needs the same partial round, so any of them explains the samples
  // exactly; fewer than 5 do not.
  EXPECT_GE(hw.nccl_sms, 5);
  EXPECT_LE(hw.nccl_sms, 8);
  EXPECT_LT(report["nccl_sms"]["mean_abs_log_error"].get<double>(), 1e-9);
  EXPECT_NEAR(hw.comm_slowdown, 0, 1e-9);
}

TEST(CalibrationPlan, CoversEveryTableAndTheModelsAxes) {
  PlanOptions po;
  const std::vector<KernelCase> plan = KernelPlan(po);
  for (const char* pass : {"forward", "backward"})
    for (const char* mask : {"full", "causal"})
      for (int d : {64, 128}) {
        int n = 0;
        for (const KernelCase& c : plan) n += c.pass == pass && c.mask == mask && c.head_dim == d;
        EXPECT_GE(n, 6) << pass << " " << mask << " " << d;
      }
  // The forward CTA sweep spans a quarter round to 4+ rounds of 264 slots; the tile sweep n = kv/64 from 8 to 512.
  double lo = 1e9, hi = 0;
  for (const KernelCase& c : plan)
    if (c.pass == "forward" && c.why == "cta sweep" && c.head_dim == 128) {
      const double ctas = c.heads * double(c.q / 128);
      lo = std::min(lo, ctas), hi = std::max(hi, ctas);
    }
  EXPECT_LE(lo, 66);
  EXPECT_GE(hi, 1024);
  for (const KernelCase& c : plan) EXPECT_LE(c.DeviceBytes(), po.max_block_bytes);
  // Square causal blocks: half the pairs minus half the diagonal.
  const KernelCase causal{"forward", "causal", 128, 8, 8, 1, 1024, 1024, 0, "causal"};
  EXPECT_DOUBLE_EQ(causal.Pairs(), 1024.0 * 1025 / 2 - 512);
  EXPECT_DOUBLE_EQ(ToSample(causal, {3, 1, 2, 100}).us, 2.5);
  EXPECT_LT(KernelPlan(PlanOptions{132, true}).size(), plan.size() / 2);
}

TEST(CalibrationPlan, CoverageSpansTheIssuesGridFromOneGpu) {
  PlanOptions po;
  const std::vector<CoverageShape> shapes = CoverageShapes(po);
  int min_bh = 1 << 30, max_bh = 0;
  int64_t min_s = 1 << 30, max_s = 0;
  std::set<std::tuple<int, std::string>> dims_masks;
  for (const CoverageShape& s : shapes) {
    min_bh = std::min(min_bh, s.batch * s.heads), max_bh = std::max(max_bh, s.batch * s.heads);
    min_s = std::min(min_s, s.seq), max_s = std::max(max_s, s.seq);
    dims_masks.insert({s.head_dim, s.mask});
    EXPECT_FALSE(IsHeldOut(s)) << s.Line();
    EXPECT_LE(double(s.batch) * s.heads * double(s.seq) * s.seq, po.coverage_max_pairs) << s.Line();
  }
  EXPECT_EQ(min_bh, 8);
  EXPECT_EQ(max_bh, 16 * 64);
  EXPECT_EQ(min_s, 512);
  EXPECT_GE(max_s, 32768);
  EXPECT_EQ(dims_masks.size(), 6u);  // D 64/128/256 x causal/full
  // Every coverage shape is in the kernel plan, forward and backward; no held-out shape is.
  const std::vector<KernelCase> plan = KernelPlan(po);
  int coverage_cases = 0;
  double seconds = 0;
  for (const KernelCase& c : plan) {
    coverage_cases += c.why == "coverage";
    seconds += CaseSeconds(c, 400, 10);
    if (c.q == c.kv && c.diagonal_offset == 0 && c.heads == c.kv_heads)
      EXPECT_FALSE(IsHeldOut({c.batch, c.heads, c.q, c.head_dim, c.mask})) << c.why;
  }
  EXPECT_EQ(coverage_cases, int(2 * shapes.size()));
  // The whole plan, and PyTorch SDPA over the coverage (both backends) at a lower rate: about 4 minutes at most.
  for (const CoverageShape& s : shapes) seconds += 2 * SdpaSeconds(s, 300, 3, 10);
  EXPECT_LT(seconds, 240) << "GPU seconds";
  EXPECT_TRUE(CoverageShapes(PlanOptions{.coverage = false}).empty());
}

// GPU seconds of a plan's coverage cases at one head dim (forward and backward, 10 launches each).
double CoverageSeconds(const std::vector<KernelCase>& plan, int d) {
  double s = 0;
  for (const KernelCase& c : plan)
    if (c.why == "coverage" && c.head_dim == d) s += CaseSeconds(c, 400, 10);
  return s;
}

TEST(CalibrationPlan, HeadDimsChooseWhatIsMeasured) {
  std::vector<int> dims;
  ASSERT_TRUE(ParseHeadDims("256", "--head-dims", &dims).ok());
  EXPECT_EQ(dims, std::vector<int>{256});
  ASSERT_TRUE(ParseHeadDims("128,64", "--head-dims", &dims).ok());
  EXPECT_EQ(dims, (std::vector<int>{128, 64}));
  for (const char* bad : {"", "96", "64,64", "64,", "256x", "-64", "64;128", " 64", "0064", "064,128"}) {
    const Status st = ParseHeadDims(bad, "--head-dims", &dims);
    EXPECT_FALSE(st.ok()) << "'" << bad << "'";
    EXPECT_NE(st.message().find("--head-dims"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("64, 128, 256"), std::string::npos) << st.message();
  }
  EXPECT_EQ(dims, (std::vector<int>{128, 64})) << "a bad list leaves the output alone";
  // Only D=256: every case of the plan and every coverage shape is at D=256, the sweeps included.
  PlanOptions only;
  only.head_dims = {256};
  const std::vector<KernelCase> plan = KernelPlan(only);
  std::set<std::string> whys;
  for (const KernelCase& c : plan) {
    EXPECT_EQ(c.head_dim, 256) << c.why;
    whys.insert(c.why);
  }
  EXPECT_EQ(whys, (std::set<std::string>{"tile sweep", "gqa", "cta sweep", "causal", "causal gqa", "coverage"}));
  for (const CoverageShape& s : CoverageShapes(only)) EXPECT_EQ(s.head_dim, 256) << s.Line();
  // The default plan is the union of the one-head-dim plans (a D=256 call adds exactly what the default measures).
  size_t sum = 0;
  for (int d : kPlanHeadDims) sum += KernelPlan(PlanOptions{.head_dims = {d}}).size();
  EXPECT_EQ(sum, KernelPlan(PlanOptions{}).size());
  // A quick plan keeps one head dim: 128 when asked for, else the first asked for.
  for (const KernelCase& c : KernelPlan(PlanOptions{.quick = true, .head_dims = {64, 256}})) EXPECT_EQ(c.head_dim, 64);
}

TEST(CalibrationPlan, HeadDim256CoverageIsModest) {
  // D=256 spans the issue's grid at its ends (batch×heads 1×8 and 16×64, blocks from 512 tokens, both masks) at under
  // 40% of the D=128 coverage's GPU time; no held-out shape, every block within the device memory budget.
  PlanOptions po;
  po.head_dims = {128, 256};
  int min_bh = 1 << 30, max_bh = 0;
  int64_t min_s = 1 << 30, max_s = 0;
  std::set<std::string> masks;
  for (const CoverageShape& s : CoverageShapes(po)) {
    if (s.head_dim != 256) continue;
    min_bh = std::min(min_bh, s.batch * s.heads), max_bh = std::max(max_bh, s.batch * s.heads);
    min_s = std::min(min_s, s.seq), max_s = std::max(max_s, s.seq);
    masks.insert(s.mask);
    EXPECT_FALSE(IsHeldOut(s)) << s.Line();
  }
  EXPECT_EQ(min_bh, 8);
  EXPECT_EQ(max_bh, 16 * 64);
  EXPECT_EQ(min_s, 512);
  EXPECT_GE(max_s, 16384);
  EXPECT_EQ(masks.size(), 2u);
  const std::vector<KernelCase> plan = KernelPlan(po);
  for (const KernelCase& c : plan) EXPECT_LE(c.DeviceBytes(), po.max_block_bytes);
  const double d128 = CoverageSeconds(plan, 128), d256 = CoverageSeconds(plan, 256);
  EXPECT_GT(d256, 0.1 * d128);
  EXPECT_LT(d256, 0.4 * d128) << d256 << " s at D=256, " << d128 << " s at D=128";
}

TEST(CalibrationPlan, HeldOutShapesMatchTheCommittedFiles) {
  std::vector<CoverageShape> from_file;
  for (const char* name : {"heldout_shapes.txt", "heldout_shapes_gqa.txt", "heldout_shapes_random.txt"}) {
    std::ifstream f(std::string(RINGLAB_SOURCE_DIR) + "/bench/kernels/" + name);
    ASSERT_TRUE(f.good()) << name;
    for (std::string line; std::getline(f, line);) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream in(line);
      CoverageShape s;
      in >> s.batch >> s.heads >> s.seq >> s.head_dim >> s.mask;
      if (!(in >> s.kv_heads)) s.kv_heads = 0;  // MHA lines have five columns
      from_file.push_back(s);
      EXPECT_EQ(s.Line(), line.substr(0, line.find_last_not_of(" \t") + 1)) << name;  // Line() writes the file's format
    }
  }
  EXPECT_EQ(from_file, HeldOutShapes());
}

// GQA coverage: problems with kv heads fewer than heads, in the plan with their kv heads, printed with the Hkv column
// (the peer's SDPA runs them with enable_gqa), none of them held out.
TEST(CalibrationPlan, CoverageHasGqaProblemsForBothProfiles) {
  PlanOptions po;
  po.head_dims = {128};
  int gqa = 0;
  std::set<int> groups;
  for (const CoverageShape& s : CoverageShapes(po)) {
    if (s.KvHeads() == s.heads) continue;
    ++gqa;
    groups.insert(s.heads / s.KvHeads());
    EXPECT_FALSE(IsHeldOut(s)) << s.Line();
    EXPECT_EQ(s.Line().substr(s.Line().rfind(' ') + 1), std::to_string(s.KvHeads()));
  }
  EXPECT_GE(gqa, 12);
  EXPECT_EQ(groups, (std::set<int>{4, 8}));
  int gqa_cases = 0;
  for (const KernelCase& c : KernelPlan(po)) gqa_cases += c.why == "coverage" && c.kv_heads < c.heads;
  EXPECT_EQ(gqa_cases, 2 * gqa);
  EXPECT_TRUE(IsHeldOut({1, 8, 4096, 128, "causal", 1}));   // heldout_shapes_gqa.txt
  EXPECT_FALSE(IsHeldOut({1, 8, 4096, 128, "causal", 2}));  // not with other kv heads
  EXPECT_TRUE(IsHeldOut({8, 32, 2048, 128, "causal", 32}));  // kv heads = heads is the MHA line
}

// Forward kernels timed in both output modes give a table per mode; the overwrite table (no accumulator read-back)
// is the faster, and the simulator's profile finds each by its mode. Samples without a mode read back as merges.
TEST(ProfileFit, ForwardOutputModesGetTablesOfTheirOwn) {
  FitInputs in = Synthetic();
  const size_t n = in.kernels.size();
  for (size_t i = 0; i < n; ++i) {
    if (in.kernels[i].pass != "forward") continue;
    in.kernels[i].mode = "merge";
    KernelSample o = in.kernels[i];
    o.mode = "overwrite";
    o.us *= 0.8;
    in.kernels.push_back(o);
  }
  nlohmann::json profile, report;
  FitOptions opt;
  opt.name = "modes";
  opt.tag = "TEST";
  ASSERT_TRUE(FitProfile(in, Base(), opt, &profile, &report).ok());
  EXPECT_TRUE(report.contains("attention forward overwrite full 128")) << report.dump();
  HardwareProfile hw;
  ASSERT_TRUE(ParseProfile(profile, "fitted", &hw).ok());
  const AttentionTable* merge = hw.FindTable("forward", "full", 128, "merge");
  const AttentionTable* overwrite = hw.FindTable("forward", "full", 128, "overwrite");
  ASSERT_TRUE(merge && overwrite);
  EXPECT_EQ(merge->mode, "merge");
  EXPECT_EQ(overwrite->mode, "overwrite");
  int forward_full_128 = 0;  // the base's modeless table was replaced by the merge one, not kept beside it
  for (const AttentionTable& t : hw.attention) forward_full_128 += t.pass == "forward" && t.mask == "full" && t.head_dim == 128;
  EXPECT_EQ(forward_full_128, 2);
  for (int64_t s : {1024, 16384}) {
    const double pairs = double(s) * s;
    EXPECT_NEAR(overwrite->wave.KernelUs(s, s, pairs, 8, 1, 1) / merge->wave.KernelUs(s, s, pairs, 8, 1, 1), 0.8, 0.03);
  }
  FitInputs back;
  nlohmann::json j = ToJson(in);
  j["kernels"][0].erase("mode");
  ASSERT_TRUE(FromJson(j, "mem", &back).ok());
  EXPECT_EQ(back.kernels[0].mode, "merge");
  EXPECT_EQ(back.kernels.back().mode, "overwrite");
  j["kernels"][0]["mode"] = "accumulate";
  const Status st = FromJson(j, "bad.json", &back);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("merge or overwrite"), std::string::npos) << st.message();
}

TEST(ProfileFit, SamplesRoundTripThroughJson) {
  const FitInputs in = Synthetic();
  FitInputs back;
  ASSERT_TRUE(FromJson(ToJson(in), "mem", &back).ok());
  EXPECT_EQ(back.kernels.size(), in.kernels.size());
  EXPECT_EQ(back.transfers.size(), in.transfers.size());
  EXPECT_DOUBLE_EQ(back.kernels[7].us, in.kernels[7].us);
  EXPECT_EQ(back.forward.ctas_per_sm, 2);
  EXPECT_TRUE(back.backward.grid_kv);
  nlohmann::json bad = ToJson(in);
  bad["kernels"][0]["heads"] = 3;
  bad["kernels"][0]["kv_heads"] = 2;
  const Status st = FromJson(bad, "bad.json", &back);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("heads divisible by kv_heads"), std::string::npos) << st.message();
}

// Samples out of their range are refused naming the sample and the field: a negative skew or overlap was clamped to
// 0 (so a broken trace script went unnoticed), and more pairs than the q x kv block holds passed as cheap work.
TEST(ProfileFit, SamplesOutOfRangeAreRefusedNamingTheSampleAndField) {
  const nlohmann::json good = ToJson(Synthetic());
  ASSERT_GE(good["kernels"].size(), 3u);
  auto refused = [&](const std::function<void(nlohmann::json&)>& change, const std::string& names) {
    nlohmann::json j = good;
    change(j);
    FitInputs back;
    const Status st = FromJson(j, "bad.json", &back);
    EXPECT_FALSE(st.ok()) << names;
    EXPECT_NE(st.message().find("samples bad.json: " + names), std::string::npos) << st.message();
  };
  const double block = good["kernels"][2]["q"].get<double>() * good["kernels"][2]["kv"].get<double>();
  refused([&](nlohmann::json& j) { j["kernels"][2]["pairs"] = block * 1.01; },
          "kernels[2].pairs: must be at most q x kv");
  using nlohmann::json;  // {"pass", us} pairs are arrays (an initializer list of them would read as an object)
  refused([](json& j) { j["start_skews_us"] = json::array({json::array({"forward", 3.0}), {"backward", -1.5}}); },
          "start_skews_us[1]: the skew (us) must be >= 0, got -1.5");
  refused([](nlohmann::json& j) { j["overlap_us"] = {{10.0, 12.0}, {10.0, 11.0}, {-10.0, 11.0}}; },
          "overlap_us[2]: both times");
  refused([](nlohmann::json& j) { j["overlap_us"] = {{10.0, 0.0}}; }, "overlap_us[0]: both times");
  nlohmann::json beside = good["kernels"][0];
  for (double overlap : {-0.25, 1.5}) {
    beside["overlap"] = overlap;
    refused([&](nlohmann::json& j) { j["beside_kernels"] = {good["kernels"][0], beside}; },
            "beside_kernels[1].overlap: must be in [0, 1]");
  }
  refused([](nlohmann::json& j) { j["kernels"][1]["us"] = -3; }, "kernels[1]: kernel sample needs");
  refused([](nlohmann::json& j) { j["kernels"][1]["q"] = "many"; }, "kernels[1].q: must be an integer");
  // At the bounds: pairs = q x kv (a full block), a zero skew, overlap 0 and 1, a negative launch gap (event jitter).
  nlohmann::json j = good;
  j["kernels"][2]["pairs"] = block;
  j["start_skews_us"] = json::array({json::array({"forward", 0.0})});
  beside["overlap"] = 0.0;
  nlohmann::json beside_all = good["kernels"][0];
  beside_all["overlap"] = 1.0;
  j["beside_kernels"] = {beside, beside_all};
  j["launch_gaps_us"] = {-0.5, 3.0};
  FitInputs back;
  const Status st = FromJson(j, "edge.json", &back);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(ProfileFit, HeadDim256TakesItsOwnLaunchGeometry) {
  // D=128 samples on the 128x64 forward, D=256 ones on a 64x64 forward (FlashAttention-2's on an H100, our ws
  // kernel's keys): each head dim's table is fitted and written with its own tiles, and the fit recovers the truth.
  FitInputs in = Synthetic();
  std::erase_if(in.kernels, [](const KernelSample& k) { return k.mask != "full"; });
  const size_t d128 = in.kernels.size();
  WaveModel truth = TrueForward(in.sms);
  truth.tile_q = 64;
  truth.tile_us *= 2;  // twice the FLOPs a tile at D=256
  in.geometry_by_head_dim[256] = {{false, 64, 64, 0}, {true, 64, 64, 1}};
  for (KernelSample k : std::vector<KernelSample>(in.kernels.begin(), in.kernels.begin() + d128)) {
    k.head_dim = 256;
    k.us = truth.KernelUs(k.q, k.kv, k.pairs, k.heads, 1, 1);
    in.kernels.push_back(k);
  }
  // The geometry travels through the samples' JSON (and a bad key is named).
  FitInputs back;
  ASSERT_TRUE(FromJson(ToJson(in), "mem", &back).ok());
  EXPECT_EQ(GeometryOf(back, "forward", 256).tile_q, 64);
  EXPECT_EQ(GeometryOf(back, "backward", 256).tile_kv, 64);
  EXPECT_EQ(GeometryOf(back, "forward", 128).tile_q, 128);
  nlohmann::json bad = ToJson(in);
  bad["geometry_by_head_dim"]["d256"] = bad["geometry_by_head_dim"]["256"];
  const Status st = FromJson(bad, "bad.json", &back);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("geometry_by_head_dim: key 'd256'"), std::string::npos) << st.message();
  nlohmann::json profile, report;
  ASSERT_TRUE(FitProfile(in, Base(), FitOptions{}, &profile, &report).ok());
  std::map<int, nlohmann::json> wave;
  for (const nlohmann::json& t : profile["compute"]["attention"])
    if (t["pass"] == "forward" && t["mask"] == "full" && t.value("mode", "merge") == "merge")
      wave[t["head_dim"]] = t["wave"];
  ASSERT_TRUE(wave.count(128) && wave.count(256));
  EXPECT_EQ(wave[128]["tile_q"], 128);
  EXPECT_EQ(wave[256]["tile_q"], 64);
  EXPECT_EQ(wave[256]["tile_kv"], 64);
  EXPECT_EQ(report["attention forward full 256"]["ctas_per_sm"], 2);
  EXPECT_NEAR(report["attention forward full 256"]["single_resident_throughput"].get<double>(), 0.7, 1e-9);
  EXPECT_LT(report["attention forward full 256"]["median_abs_error"].get<double>(), 1e-6);
}

// The backward's GQA walk (split_group for ours, expand_group for FlashAttention-2: calibrate/scripts/peer_sdpa_fit.py
// writes it) travels through the samples' JSON; both at once, or expand_group on a query grid, are named errors.
TEST(FitProfile, GroupWalkOfTheGeometryTravelsThroughTheSamples) {
  FitInputs in = Synthetic();
  in.backward.grid_kv = true;
  in.backward.expand_group = true;
  FitInputs back;
  ASSERT_TRUE(FromJson(ToJson(in), "mem", &back).ok());
  EXPECT_TRUE(back.backward.expand_group);
  EXPECT_FALSE(back.backward.split_group);
  for (const auto& [pass, split] : {std::pair{"backward", true}, std::pair{"forward", false}}) {
    nlohmann::json bad = ToJson(in);
    bad["geometry"][pass]["expand_group"] = true;
    if (split) bad["geometry"][pass]["split_group"] = true;
    const Status st = FromJson(bad, "bad.json", &back);
    ASSERT_FALSE(st.ok()) << pass;
    EXPECT_NE(st.message().find(std::string("geometry.") + pass + ".expand_group"), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace ringlab::calibrate
