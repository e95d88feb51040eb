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
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/exit_codes.h"
#include "calibrate/calibration_plan.h"
#include "calibrate/fit/profile_fit.h"
#include "calibrate/microbench/microbench.h"
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
};

namespace {

std::string UtcNow() {
  char b[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
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
  return s;
}

Status WriteJson(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  f << j.dump(1) << "\n";
  if (!f) return Status::Internal("cannot write '" + path + "'");
  return Status::Ok();
}

// --dry-run: the kernel plan and its work, no GPU needed (an H100-class 132 SMs). The estimate counts the FLOPs of
// every launch at kOursTflops (PyTorch SDPA at kSdpaTflops) plus a fixed cost per case (buffers, random fill,
// synchronisation; Python and allocator per SDPA call), so small launch-bound shapes are not estimated at zero.
constexpr double kOursTflops = 400, kSdpaTflops = 300, kCaseOverheadS = 0.01, kSdpaShapeOverheadS = 0.15;
constexpr int kSdpaWarmup = 3, kSdpaIters = 10;  // calibrate/device/kernel_coverage.sh passes these

int DryRun(const CalibrateOptions& o) {
  calibrate::PlanOptions po;
  po.quick = o.quick;
  double total_s = 0, coverage_s = 0;
  std::printf("%-9s %-6s %4s %3s %4s %4s %7s %7s %10s %9s  %s\n", "pass", "mask", "D", "B", "H", "Hkv", "q", "kv",
              "GFLOP", "MiB", "why");
  const std::vector<calibrate::KernelCase> plan = calibrate::KernelPlan(po);
  for (const calibrate::KernelCase& c : plan) {
    const double s = calibrate::CaseSeconds(c, kOursTflops, o.warmup + o.reps + 1) + kCaseOverheadS;
    total_s += s;
    if (c.why == "coverage") coverage_s += s;
    std::printf("%-9s %-6s %4d %3d %4d %4d %7lld %7lld %10.1f %9.0f  %s\n", c.pass.c_str(), c.mask.c_str(),
                c.head_dim, c.batch, c.heads, c.kv_heads, (long long)c.q, (long long)c.kv,
                calibrate::CaseSeconds(c, 1e-3, 1), c.DeviceBytes() / 1048576.0, c.why.c_str());
  }
  const std::vector<calibrate::CoverageShape> shapes = calibrate::CoverageShapes(po);
  double sdpa_s = 0;
  for (const calibrate::CoverageShape& s : shapes)
    sdpa_s += 2 * (calibrate::SdpaSeconds(s, kSdpaTflops, kSdpaWarmup, kSdpaIters) + kSdpaShapeOverheadS);
  std::printf("%zu kernel cases (%zu coverage shapes, forward and backward), about %.0f s of GPU time at %.0f TFLOP/s "
              "with %d warm-up + %d timed launches (coverage %.0f s); NCCL: %zu message sizes\n",
              plan.size(), shapes.size(), total_s, kOursTflops, o.warmup, o.reps, coverage_s,
              calibrate::MessageSizes(o.quick).size());
  std::printf("peer (calibrate/device/kernel_coverage.sh): PyTorch SDPA FLASH and CUDNN over the %zu coverage shapes, "
              "%d warm-up + %d timed forward and forward+backward calls each: about %.0f s at %.0f TFLOP/s\n",
              shapes.size(), kSdpaWarmup, kSdpaIters, sdpa_s, kSdpaTflops);
  std::printf("estimated GPU time for `ringlab calibrate --gpus 1 --skip-comm` plus the peer: %.1f min\n",
              (total_s + sdpa_s) / 60);
  return 0;
}

// --coverage-shapes: the coverage grid, one "B H S D mask" line each (what the device script hands PyTorch SDPA).
int PrintCoverageShapes(const CalibrateOptions& o) {
  calibrate::PlanOptions po;
  po.quick = o.quick;
  for (const calibrate::CoverageShape& s : calibrate::CoverageShapes(po)) std::printf("%s\n", s.Line().c_str());
  return 0;
}

}  // namespace

int RunCalibrate(const CalibrateOptions& o) {
  if (o.dry_run) return DryRun(o);
  if (o.coverage_shapes) return PrintCoverageShapes(o);
  if (o.out.empty()) return ReportError(Status::InvalidArgument("--out is required"));
  // Inputs first (cheap, no GPU): the base profile must load.
  nlohmann::json base;
  {
    const bool path = o.base.find('/') != std::string::npos || o.base.ends_with(".json");
    std::ifstream f(path ? o.base : sim::ProfileDir() + "/" + o.base + ".json");
    if (!f) return ReportError(Status::InvalidArgument("--base: cannot open profile '" + o.base + "'"));
    try {
      f >> base;
    } catch (const std::exception& e) {
      return ReportError(Status::InvalidArgument("--base " + o.base + ": not valid JSON: " + e.what()));
    }
  }
  calibrate::DeviceFacts facts;
  if (Status st = calibrate::QueryDevices(&facts); !st.ok()) return ReportError(st);
  const int gpus = o.gpus > 0 ? o.gpus : facts.visible;
  if (gpus > facts.visible)
    return ReportError(Status::Unavailable("asked for " + std::to_string(gpus) + " GPUs but " +
                                           std::to_string(facts.visible) + (facts.visible == 1 ? " is" : " are") +
                                           " visible"));
  auto progress = [](const std::string& line) {
    std::fprintf(stderr, "calibrate: %s\n", line.c_str());
    std::fflush(stderr);
  };
  progress("device 0: " + facts.card + ", " + std::to_string(facts.sms) + " SMs; " + std::to_string(gpus) + " of " +
           std::to_string(facts.visible) + " GPUs; driver " + facts.driver + ", CUDA " + facts.cuda_runtime +
           ", NCCL " + facts.nccl);

  calibrate::FitInputs in;
  in.sms = facts.sms;
  in.forward = {false, o.fwd_tile_q, o.fwd_tile_kv, o.ctas_per_sm};
  in.backward = {true, o.bwd_tile_q, o.bwd_tile_kv, o.ctas_per_sm};
  calibrate::BenchOptions bo;
  bo.warmup = o.warmup;
  bo.reps = o.reps;
  bo.sustain_ms = o.sustain_ms;
  bo.preheat_ms = o.preheat_ms;
  bo.progress = progress;
  if (!o.skip_kernels) {
    calibrate::PlanOptions po;
    po.sms = facts.sms;
    po.quick = o.quick;
    const std::vector<calibrate::KernelCase> plan = calibrate::KernelPlan(po);
    progress("kernels: " + std::to_string(plan.size()) + " block shapes on GPU 0, " + std::to_string(o.warmup) +
             " warm-up + " + std::to_string(o.reps) + " timed launches each");
    if (Status st = calibrate::BenchKernels(0, plan, bo, &in); !st.ok()) return ReportError(st);
  }
  if (!o.skip_comm) {
    if (gpus < 2) {
      progress("1 GPU: no NCCL measurements; the network numbers stay the base profile's");
    } else {
      std::vector<int> devices;
      for (int i = 0; i < gpus; ++i) devices.push_back(i);
      const std::vector<int64_t> sizes = calibrate::MessageSizes(o.quick);
      progress("NCCL: point-to-point and all-gather over " + std::to_string(sizes.size()) + " sizes on " +
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
  const std::string samples_path = o.samples.empty() ? o.out + ".samples.json" : o.samples;
  if (Status st = WriteJson(samples_path, calibrate::ToJson(in)); !st.ok()) return ReportError(st);
  calibrate::FitOptions fo;
  fo.name = o.name.empty() ? base.value("name", std::string("profile")) + "_calibrated" : o.name;
  fo.tag = "ringlab calibrate " + date + ", " + facts.card + ", commit " +
           (o.commit.empty() ? std::string("unknown") : o.commit);
  nlohmann::json profile, report;
  if (Status st = calibrate::FitProfile(in, base, fo, &profile, &report); !st.ok()) return ReportError(st);
  profile["gpu"] = facts.card + " (" + std::to_string(facts.sms) + " SMs); calibrated by ringlab calibrate";
  if (Status st = WriteJson(o.out, profile); !st.ok()) return ReportError(st);
  progress("wrote " + samples_path + " (" + std::to_string(in.kernels.size()) + " kernel, " +
           std::to_string(in.transfers.size()) + " transfer samples) and " + o.out);
  std::printf("%s\n", report.dump(1).c_str());
  return kExitOk;
}

std::shared_ptr<CalibrateOptions> SetupCalibrate(CLI::App* cmd) {
  auto o = std::make_shared<CalibrateOptions>();
  cmd->add_option("--out", o->out, "write the fitted profile JSON here (required unless --dry-run)");
  cmd->add_option("--samples", o->samples, "write the raw samples here (default: OUT.samples.json); "
                                           "`ringlab fit-profile` refits them anywhere");
  cmd->add_option("--gpus", o->gpus, "GPUs to use, 0..N-1 (default: all visible; NCCL needs 2 or more)");
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
      ->capture_default_str()->check(CLI::Range(0.0, 10000.0));
  cmd->add_option("--preheat-ms", o->preheat_ms,
                  "before timing kernels, run the largest forward case back to back this long (a long run's power "
                  "and thermal state)")
      ->capture_default_str()->check(CLI::Range(0.0, 60000.0));
  cmd->add_flag("--quick", o->quick, "a smoke run: head dim 128 only, coarser sweeps, two message sizes");
  cmd->add_flag("--dry-run", o->dry_run, "print the kernel plan and an estimate of its GPU time, measure nothing "
                                         "(needs no GPU)");
  cmd->add_flag("--coverage-shapes", o->coverage_shapes, "print the coverage shapes (\"B H S D mask\" lines, the "
                                                         "peer's SDPA list) and exit (needs no GPU)");
  cmd->add_flag("--skip-kernels", o->skip_kernels, "no kernel measurements (attention tables stay the base's)");
  cmd->add_flag("--skip-comm", o->skip_comm, "no NCCL measurements (network numbers stay the base's)");
  auto tile = [](int* a, int* b) {
    return [a, b](const std::string& s) {
      if (std::sscanf(s.c_str(), "%dx%d", a, b) != 2 || *a <= 0 || *b <= 0)
        throw CLI::ValidationError("tile", "expected QxKV such as 128x64, got '" + s + "'");
    };
  };
  cmd->add_option_function<std::string>("--fwd-tile", tile(&o->fwd_tile_q, &o->fwd_tile_kv),
                                        "forward kernel tile, query rows x keys (default 128x128: the wgmma kernel)");
  cmd->add_option_function<std::string>("--bwd-tile", tile(&o->bwd_tile_q, &o->bwd_tile_kv),
                                        "backward kernel tile, query rows x keys (default 64x128)");
  cmd->add_option("--ctas-per-sm", o->ctas_per_sm, "resident CTAs per SM of both kernels (0: fitted from the CTA "
                                                   "sweep)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  return o;
}

}  // namespace ringlab::cli
