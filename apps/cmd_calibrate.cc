// `ringlab calibrate`: measure this machine's GPUs for the simulator and write a hardware profile.
//
//   ringlab calibrate --gpus 4 --out h100_cal.json            # kernels on GPU 0, NCCL across the 4 GPUs
//   ringlab calibrate --quick --out smoke.json                # a smoke run (fewer shapes and sizes)
//
// Measures (calibrate/microbench/microbench.h): our attention kernels, forward (merge epilogue) and backward, over
// the calibration plan's block shapes (calibrate/calibration_plan.h), the backward preprocess and the dK/dV add; NCCL
// point-to-point and all-gather over message sizes, alone, beside an attention kernel, and posted while one runs.
// Writes the raw samples (--samples, default OUT.samples.json) and the profile fitted from them by the same code as
// `ringlab fit-profile` (calibrate/fit/profile_fit.h), with provenance: card, driver, CUDA, NCCL, date, commit,
// command.
// Host gaps between kernels are not measured here: calibrate/scripts/calibrate.py takes them from real runs.
// Builds without CUDA have the subcommand for its plan only (--dry-run, --coverage-shapes); measuring needs CUDA.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "calibrate/calibration_plan.h"
#include "calibrate/fit/profile_fit.h"
#ifdef RINGLAB_HAVE_CUDA
#include "calibrate/microbench/microbench.h"
#endif
#include "core/json_file.h"
#include "core/output_file.h"
#include "kernels/cuda/attention_tiles.h"
#include "sim/profile.h"

namespace ringlab::cli {

struct CalibrateOptions {
  int gpus = 0;
  std::string out, samples, base = sim::kBaseProfile, name, commit;
  bool quick = false, skip_kernels = false, skip_comm = false, dry_run = false, coverage_shapes = false;
  int warmup = 2, reps = 7;
  double sustain_ms = 0, preheat_ms = 0;
  // Launch geometry of the kernels LaunchForward / LaunchBackward pick on sm_90 (kernels/cuda/attention_*_wgmma.cu);
  // CTAs per SM 0 = fitted from the CTA sweep.
  int fwd_tile_q = 128, fwd_tile_kv = 128, bwd_tile_q = 64, bwd_tile_kv = 128, ctas_per_sm = 0;
  std::vector<int> head_dims = {64, 128, 256};  // --head-dims (calibrate::kPlanHeadDims)
};

namespace {

std::string UtcNow() {
  char b[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

std::string HeadDimsText(const std::vector<int>& dims) {
  std::string s;
  for (int d : dims) s += (s.empty() ? "" : ",") + std::to_string(d);
  return s;
}

// The plan options of a run: quick, the head dims and (when known) the device's SMs.
calibrate::PlanOptions Plan(const CalibrateOptions& o, int sms = 132) {
  calibrate::PlanOptions po;
  po.sms = sms;
  po.quick = o.quick;
  po.head_dims = o.head_dims;
  return po;
}

// The command line that reproduces this run (options in canonical form).
std::string CommandLine(const CalibrateOptions& o, int gpus) {
  std::string s = "ringlab calibrate --gpus " + std::to_string(gpus) + " --out " + o.out + " --base " + o.base +
                  " --warmup " + std::to_string(o.warmup) + " --reps " + std::to_string(o.reps) + " --fwd-tile " +
                  std::to_string(o.fwd_tile_q) + "x" + std::to_string(o.fwd_tile_kv) + " --bwd-tile " +
                  std::to_string(o.bwd_tile_q) + "x" + std::to_string(o.bwd_tile_kv) + " --ctas-per-sm " +
                  std::to_string(o.ctas_per_sm);
  if (o.sustain_ms > 0) s += " --sustain-ms " + std::to_string(int(o.sustain_ms));
  if (o.preheat_ms > 0) s += " --preheat-ms " + std::to_string(int(o.preheat_ms));
  if (o.quick) s += " --quick";
  if (o.skip_kernels) s += " --skip-kernels";
  if (o.skip_comm) s += " --skip-comm";
  s += " --head-dims " + HeadDimsText(o.head_dims);
  return s;
}

// The base profile: it must load as `ringlab sim` loads it (unknown and duplicate keys included).
Status LoadBase(const std::string& base, nlohmann::json* j) {
  sim::HardwareProfile checked;
  if (Status st = sim::LoadProfile(base, &checked); !st.ok()) return Status::InvalidArgument("--base: " + st.message());
  return ReadJsonFile(sim::ProfilePath(base), "profile", j);
}

// Progress lines on stderr with the elapsed time and, while kernel cases run, their count and an ETA.
class CalibrateProgress {
 public:
  void StartCases(size_t total) {
    cases_total_ = total;
    cases_done_ = 0;
  }
  void Line(const std::string& line, bool one_case) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string where = std::to_string(int(elapsed)) + " s";
    if (one_case && cases_total_ > 0) {
      ++cases_done_;
      const double eta = elapsed / double(cases_done_) * double(cases_total_ - std::min(cases_done_, cases_total_));
      where += ", case " + std::to_string(cases_done_) + " of " + std::to_string(cases_total_) + ", ETA " +
               std::to_string(int(eta)) + " s";
    }
    spdlog::info("calibrate [{}]: {}", where, line);
  }

 private:
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  size_t cases_total_ = 0, cases_done_ = 0;
};

// --dry-run: the kernel plan and its work, no GPU needed (an H100-class 132 SMs). The estimate counts the FLOPs of
// every launch at kOursTflops (PyTorch SDPA at kSdpaTflops) plus a fixed cost per case (buffers, random fill,
// synchronisation; Python and allocator per SDPA call), so small launch-bound shapes are not estimated at zero.
constexpr double kOursTflops = 400, kSdpaTflops = 300, kCaseOverheadS = 0.01, kSdpaShapeOverheadS = 0.15;
constexpr int kSdpaWarmup = 3, kSdpaIters = 10;  // calibrate/device/kernel_coverage.sh passes these

int DryRun(const CalibrateOptions& o) {
  const calibrate::PlanOptions po = Plan(o);
  double total_s = 0;
  std::map<int, double> coverage_s;  // head dim -> GPU seconds of its coverage cases
  std::printf("%-9s %-6s %4s %3s %4s %4s %7s %7s %10s %9s  %s\n", "pass", "mask", "D", "B", "H", "Hkv", "q", "kv",
              "GFLOP", "MiB", "why");
  const std::vector<calibrate::KernelCase> plan = calibrate::KernelPlan(po);
  for (const calibrate::KernelCase& c : plan) {
    const double s = calibrate::CaseSeconds(c, kOursTflops, (o.warmup + o.reps) * (c.pass == "forward" ? 2 : 1) + 1) + kCaseOverheadS;
    total_s += s;
    if (c.why == "coverage") coverage_s[c.head_dim] += s;
    std::printf("%-9s %-6s %4d %3d %4d %4d %7lld %7lld %10.1f %9.0f  %s\n", c.pass.c_str(), c.mask.c_str(),
                c.head_dim, c.batch, c.heads, c.kv_heads, (long long)c.q, (long long)c.kv,
                calibrate::CaseSeconds(c, 1e-3, 1), c.DeviceBytes() / 1048576.0, c.why.c_str());
  }
  const std::vector<calibrate::CoverageShape> shapes = calibrate::CoverageShapes(po);
  double sdpa_s = 0;
  for (const calibrate::CoverageShape& s : shapes)
    sdpa_s += 2 * (calibrate::SdpaSeconds(s, kSdpaTflops, kSdpaWarmup, kSdpaIters) + kSdpaShapeOverheadS);
  std::string by_dim;
  for (auto [d, s] : coverage_s)
    by_dim +=
        (by_dim.empty() ? "" : ", ") + ("D=" + std::to_string(d) + " ") + std::to_string(int(std::lround(s))) + " s";
  std::printf(
      "%zu kernel cases (%zu coverage shapes, forward and backward; head dims %s), about %.0f s of GPU time at "
      "%.0f TFLOP/s with %d warm-up + %d timed launches (coverage: %s)\n",
      plan.size(), shapes.size(), HeadDimsText(po.head_dims).c_str(), total_s, kOursTflops, o.warmup, o.reps,
      by_dim.empty() ? "none" : by_dim.c_str());
  std::printf("NCCL: %zu message sizes\n", calibrate::MessageSizes(o.quick).size());
  // The NCCL plan for --gpus (a node of 8 when not given): what a machine with several GPUs measures.
  const int gpus = o.gpus > 0 ? o.gpus : 8;
  std::printf("NCCL plan on %d GPU(s)%s:\n", gpus, o.gpus > 0 ? "" : " (--gpus not given: a node of 8)");
  for (const calibrate::CommCase& c : calibrate::CommPlan(gpus, o.quick))
    std::printf("  %-10s W=%-3d %10lld bytes per send  sample bytes %lld\n", c.pattern.c_str(), c.ranks,
                (long long)c.message_bytes, (long long)c.sample_bytes);
  if (gpus < 2)
    std::printf("  none: one GPU measures no NCCL (network numbers stay the base profile's; all-to-all extrapolated)\n");
  std::printf("peer (calibrate/device/kernel_coverage.sh): PyTorch SDPA FLASH and CUDNN over the %zu coverage shapes, "
              "%d warm-up + %d timed forward and forward+backward calls each: about %.0f s at %.0f TFLOP/s\n",
              shapes.size(), kSdpaWarmup, kSdpaIters, sdpa_s, kSdpaTflops);
  std::printf("estimated GPU time for `ringlab calibrate --gpus 1 --skip-comm` plus the peer: %.1f min\n",
              (total_s + sdpa_s) / 60);
  return 0;
}

// --coverage-shapes: the coverage grid, one "B H S D mask" line each (what the device script hands PyTorch SDPA).
int PrintCoverageShapes(const CalibrateOptions& o) {
  for (const calibrate::CoverageShape& s : calibrate::CoverageShapes(Plan(o))) std::printf("%s\n", s.Line().c_str());
  return 0;
}

}  // namespace

int RunCalibrate(const CalibrateOptions& o) {
  // Inputs first (cheap, no GPU): the base profile must load and the outputs must be writable.
  nlohmann::json base;
  if (Status st = LoadBase(o.base, &base); !st.ok()) return ReportError(st);
  if (o.dry_run) return DryRun(o);
  if (o.coverage_shapes) return PrintCoverageShapes(o);
  if (o.out.empty()) return ReportError(Status::InvalidArgument("--out is required (unless --dry-run or --coverage-shapes)"));
  const std::string samples_path = o.samples.empty() ? o.out + ".samples.json" : o.samples;
  if (o.samples.empty() && IsSpecialOutput(o.out))
    return ReportError(Status::InvalidArgument("--out " + o.out +
                                               ": the samples' default name OUT.samples.json "
                                               "needs a file name; give --samples FILE"));
  if (o.out == "-" && samples_path == "-")
    return ReportError(Status::InvalidArgument("--out - and --samples -: only one output can go to stdout"));
  if (Status st = CheckDistinctOutputs({{"--out", o.out}, {"--samples", samples_path}}); !st.ok())
    return ReportError(st);
  for (const std::string& path : {o.out, samples_path})
    if (Status st = CheckOutputPath(path); !st.ok()) return ReportError(st);
  if (Status st = CheckOutputsAreNotInputs({{"--out", o.out}, {"--samples", samples_path}},
                                           {{"--base", sim::ProfilePath(o.base)}});
      !st.ok())
    return ReportError(st);
#ifndef RINGLAB_HAVE_CUDA
  return ReportError(
      Status::Unavailable("this ringlab was built without CUDA: `ringlab calibrate` measures nothing "
                          "here (--dry-run and --coverage-shapes work in any build)"));
#else
  calibrate::DeviceFacts facts;
  if (Status st = calibrate::QueryDevices(&facts); !st.ok()) return ReportError(st);
  const int gpus = o.gpus > 0 ? o.gpus : facts.visible;
  if (gpus > facts.visible)
    return ReportError(Status::Unavailable("asked for " + std::to_string(gpus) + " GPUs but " +
                                           std::to_string(facts.visible) + (facts.visible == 1 ? " is" : " are") +
                                           " visible"));
  auto lines = std::make_shared<CalibrateProgress>();
  auto progress = [lines](const std::string& line) { lines->Line(line, false); };
  progress("device 0: " + facts.card + ", " + std::to_string(facts.sms) + " SMs; " + std::to_string(gpus) + " of " +
           std::to_string(facts.visible) + " GPUs; driver " + facts.driver + ", CUDA " + facts.cuda_runtime +
           ", NCCL " + facts.nccl);

  calibrate::FitInputs in;
  in.sms = facts.sms;
  in.forward = {false, o.fwd_tile_q, o.fwd_tile_kv, o.ctas_per_sm};
  in.backward = {true, o.bwd_tile_q, o.bwd_tile_kv, o.ctas_per_sm, /*split_group=*/true};
  // D=256 runs only in the warp-specialized kernels, whose tiles shrink there (kernels/cuda/attention_tiles.h).
  in.geometry_by_head_dim[256] = {
      {false, cuda::tiles::ForwardWs::kBlockM, cuda::tiles::ForwardWs::BlockN<256>(), o.ctas_per_sm},
      {true, cuda::tiles::BackwardWs::kBlockM, cuda::tiles::BackwardWs::BlockN<256>(), o.ctas_per_sm, true}};
  calibrate::BenchOptions bo;
  bo.warmup = o.warmup;
  bo.reps = o.reps;
  bo.sustain_ms = o.sustain_ms;
  bo.preheat_ms = o.preheat_ms;
  bo.progress = [lines](const std::string& line) { lines->Line(line, true); };
  if (!o.skip_kernels) {
    const std::vector<calibrate::KernelCase> plan = calibrate::KernelPlan(Plan(o, facts.sms));
    progress("kernels: " + std::to_string(plan.size()) + " block shapes on GPU 0, " + std::to_string(o.warmup) +
             " warm-up + " + std::to_string(o.reps) + " timed launches each");
    lines->StartCases(plan.size());
    if (Status st = calibrate::BenchKernels(0, plan, bo, &in); !st.ok()) return ReportError(st);
  }
  if (!o.skip_comm) {
    if (gpus < 2) {
      progress("1 GPU: no NCCL measurements; the network numbers stay the base profile's (all-to-all: the base's "
               "network.alltoall_time_us if any, else extrapolated)");
    } else {
      std::vector<int> devices;
      for (int i = 0; i < gpus; ++i) devices.push_back(i);
      const std::vector<int64_t> sizes = calibrate::MessageSizes(o.quick);
      progress("NCCL: point-to-point, all-gather and all-to-all over " + std::to_string(sizes.size()) + " sizes on " +
               std::to_string(gpus) + " GPUs");
      if (Status st = calibrate::BenchComm(devices, sizes, bo, &in); !st.ok()) return ReportError(st);
    }
  }
  const std::string command = CommandLine(o, gpus);
  const std::string date = UtcNow();
  in.provenance = {{"card", std::to_string(gpus) + "x " + facts.card},
                   {"sms", facts.sms},
                   {"driver", facts.driver},
                   {"cuda_runtime", facts.cuda_runtime},
                   {"nccl", facts.nccl},
                   {"date", date},
                   {"commit", o.commit.empty() ? "unknown (pass --commit)" : o.commit},
                   {"command", command},
                   {"tool", "ringlab calibrate"}};
  OutputBatch outputs;  // samples and profile together; the samples alone when the fit fails (they cost GPU time)
  if (Status st = outputs.Add(samples_path, calibrate::ToJson(in).dump(1) + "\n"); !st.ok()) return ReportError(st);
  calibrate::FitOptions fo;
  fo.name = o.name.empty() ? base.value("name", std::string("profile")) + "_calibrated" : o.name;
  fo.tag = "ringlab calibrate " + date + ", " + facts.card + ", commit " +
           (o.commit.empty() ? std::string("unknown") : o.commit);
  nlohmann::json profile, report;
  if (Status st = calibrate::FitProfile(in, base, fo, &profile, &report); !st.ok()) {
    if (Status saved = outputs.Commit(); saved.ok()) spdlog::warn("warning: kept the samples in {}", samples_path);
    return ReportError(st);
  }
  profile["gpu"] = facts.card + " (" + std::to_string(facts.sms) + " SMs); calibrated by ringlab calibrate";
  if (Status st = outputs.Add(o.out, profile.dump(1) + "\n"); !st.ok()) return ReportError(st);
  if (Status st = outputs.Commit(); !st.ok()) return ReportError(st);
  progress("wrote " + samples_path + " (" + std::to_string(in.kernels.size()) + " kernel, " +
           std::to_string(in.transfers.size()) + " transfer samples) and " + o.out);
  std::fprintf(HumanText({o.out, samples_path}), "%s\n", report.dump(1).c_str());
  return kExitOk;
#endif
}

std::shared_ptr<CalibrateOptions> SetupCalibrate(CLI::App* cmd) {
  auto o = std::make_shared<CalibrateOptions>();
  cmd->add_option("--out", o->out, "write the fitted profile JSON here ('-' for stdout; required unless --dry-run)");
  cmd->add_option("--samples", o->samples,
                  "write the raw samples here (default: OUT.samples.json; '-' for stdout); "
                  "`ringlab fit-profile` refits them anywhere");
  cmd->add_option("--gpus", o->gpus, "GPUs to use, 0..N-1 (default 0: all visible; NCCL needs 2 or more)")
      ->check(IntegerIn(0, 4096));
  cmd->add_option("--base", o->base, "profile whose unmeasured numbers are kept: bundled name or .json path")
      ->capture_default_str();
  cmd->add_option("--name", o->name, "profile name (default: <base name>_calibrated)");
  cmd->add_option("--commit", o->commit, "commit the binary was built at (provenance)");
  cmd->add_option("--warmup", o->warmup, "untimed launches before each measurement")->capture_default_str()
      ->check(CLI::Range(0, 100));
  cmd->add_option("--reps", o->reps, "timed launches per measurement (the median is kept)")->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--sustain-ms", o->sustain_ms,
                  "time each attention kernel after this much GPU time of back-to-back launches of it, then back to "
                  "back (the clocks a run's power limit allows; 0: short synchronised bursts)")
      ->capture_default_str()->check(FiniteIn(0.0, 10000.0));
  cmd->add_option("--preheat-ms", o->preheat_ms,
                  "before timing kernels, run the largest forward case back to back this long (a long run's power "
                  "and thermal state)")
      ->capture_default_str()->check(FiniteIn(0.0, 60000.0));
  cmd->add_flag("--quick", o->quick, "a smoke run: one head dim (128 if asked for), coarser sweeps, two message sizes");
  cmd->add_option_function<std::string>(
         "--head-dims",
         [o](const std::string& text) {
           if (Status st = calibrate::ParseHeadDims(text, "--head-dims", &o->head_dims); !st.ok())
             throw CLI::ValidationError(st.message());
         },
         "head dims the kernel plan and the coverage shapes measure, comma-separated (default 64,128,256; e.g. 256 "
         "alone to add that head dim to a profile: calibrate/scripts/merge_head_dim.py)")
      ->type_name("D,..");
  CLI::Option* dry_run =
      cmd->add_flag("--dry-run", o->dry_run, "print the kernel plan and an estimate of its GPU time, measure nothing "
                                             "(needs no GPU)");
  CLI::Option* coverage_shapes =
      cmd->add_flag("--coverage-shapes", o->coverage_shapes, "print the coverage shapes (\"B H S D mask\" lines, the "
                                                             "peer's SDPA list) and exit (needs no GPU)");
  coverage_shapes->excludes(dry_run);
  cmd->add_flag("--skip-kernels", o->skip_kernels, "no kernel measurements (attention tables stay the base's)");
  cmd->add_flag("--skip-comm", o->skip_comm, "no NCCL measurements (network numbers stay the base's)");
  // The tiles the kernels have (kernels/cuda/attention_tiles.h): a profile fitted for another would model no kernel.
  auto tile = [](const char* flag, int* a, int* b, std::vector<std::pair<int, int>> allowed) {
    std::string list;
    for (auto [q, kv] : allowed) list += (list.empty() ? "" : ", ") + std::to_string(q) + "x" + std::to_string(kv);
    return [flag, a, b, allowed, list](const std::string& s) {
      int q = 0, kv = 0;
      char end = 0;
      const bool parsed = std::sscanf(s.c_str(), "%dx%d%c", &q, &kv, &end) == 2;
      if (!parsed || std::find(allowed.begin(), allowed.end(), std::pair{q, kv}) == allowed.end())
        throw CLI::ValidationError(flag, "'" + s + "' is not a tile of the kernels; allowed: " + list);
      *a = q;
      *b = kv;
    };
  };
  cmd->add_option_function<std::string>(
      "--fwd-tile",
      tile("--fwd-tile", &o->fwd_tile_q, &o->fwd_tile_kv,
           {{cuda::tiles::ForwardWgmma::kBlockM, cuda::tiles::ForwardWgmma::kBlockN},
            {cuda::tiles::ForwardMma::kBlockM, cuda::tiles::ForwardMma::kBlockN}}),
      "forward kernel tile, query rows x keys: 128x128 (the wgmma kernel, default) or 128x64 (mma.sync)");
  cmd->add_option_function<std::string>(
      "--bwd-tile",
      tile("--bwd-tile", &o->bwd_tile_q, &o->bwd_tile_kv,
           {{cuda::tiles::BackwardWgmma::kBlockM, cuda::tiles::BackwardWgmma::kBlockN}}),
      "backward kernel tile, query rows x keys: 64x128 (both backward kernels)");
  cmd->add_option("--ctas-per-sm", o->ctas_per_sm, "resident CTAs per SM of both kernels (0: fitted from the CTA "
                                                   "sweep)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  // The outputs and the measurement-only switches do nothing in a plan: --dry-run --out F wrote no F, exit 0, and
  // --coverage-shapes beside --dry-run was ignored.
  for (const char* flag : {"--out", "--samples", "--name", "--commit", "--skip-kernels", "--skip-comm"})
    cmd->get_option(flag)->excludes(dry_run)->excludes(coverage_shapes);
  return o;
}

}  // namespace ringlab::cli
