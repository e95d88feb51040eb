// `ringlab fit-profile`: turn measured samples (from `ringlab calibrate` on GPUs, or from real run traces through
// calibrate/scripts/calibrate.py) into a hardware profile the simulator loads. CPU only, so the fit can be redone and
// tested anywhere; the fit itself is calibrate/fit/profile_fit.h.
//
//   ringlab fit-profile --samples cal_samples.json [--samples runs_host.json] --base h100_sxm --out h100_cal.json
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "calibrate/fit/profile_fit.h"
#include "core/json_file.h"
#include "core/output_file.h"
#include "sim/profile.h"

namespace ringlab::cli {

struct FitOptions {
  std::vector<std::string> samples;
  std::string base = sim::kBaseProfile, out, name, tag;
  bool one_line = false;
};

namespace {

// The base profile's JSON, checked as `ringlab sim` would load it (unknown and duplicate keys included).
Status BaseProfileJson(const std::string& name_or_path, nlohmann::json* j) {
  sim::HardwareProfile checked;
  if (Status st = sim::LoadProfile(name_or_path, &checked); !st.ok())
    return Status::InvalidArgument("--base: " + st.message());
  return ReadJsonFile(sim::ProfilePath(name_or_path), "profile", j);
}

size_t SampleCount(const calibrate::FitInputs& in) {
  return in.kernels.size() + in.transfers.size() + in.memory.size() + in.start_waits.size() + in.nccl_held.size() +
         in.beside_kernels.size() + in.launch_gaps_us.size() + in.start_skews_us.size() + in.overlap_us.size();
}

}  // namespace

int RunFitProfile(const FitOptions& o) {
  if (Status st = CheckOutputPath(o.out); !st.ok()) return ReportError(st);
  std::vector<std::pair<std::string, std::string>> inputs{{"--base", sim::ProfilePath(o.base)}};
  for (const std::string& path : o.samples) inputs.emplace_back("--samples", path);
  if (Status st = CheckOutputsAreNotInputs({{"--out", o.out}}, inputs); !st.ok()) return ReportError(st);
  calibrate::FitInputs all;
  for (size_t i = 0; i < o.samples.size(); ++i) {
    nlohmann::json j;
    calibrate::FitInputs in;
    if (Status st = ReadJsonFile(o.samples[i], "samples", &j); !st.ok()) return ReportError(st);
    if (Status st = calibrate::FromJson(j, o.samples[i], &in); !st.ok()) return ReportError(st);
    if (SampleCount(in) == 0)
      return ReportError(Status::InvalidArgument(
          "samples " + o.samples[i] +
          ": holds no samples: expected at least one entry in kernels, transfers, "
          "memory, start_waits, nccl_held, beside_kernels, launch_gaps_us, start_skews_us or overlap_us (the file "
          "`ringlab calibrate --samples` or calibrate/scripts/calibrate.py writes)"));
    if (i == 0) all = std::move(in);
    else calibrate::Append(in, &all);
  }
  nlohmann::json base, profile, report;
  if (Status st = BaseProfileJson(o.base, &base); !st.ok()) return ReportError(st);
  calibrate::FitOptions fo;
  fo.name = o.name;
  fo.tag = o.tag.empty() ? "FIT from " + std::to_string(o.samples.size()) + " sample file(s)" : o.tag;
  fo.one_line = o.one_line;
  all.provenance["samples_files"] = o.samples;
  all.provenance["base_profile"] = o.base;
  if (Status st = calibrate::FitProfile(all, base, fo, &profile, &report); !st.ok()) return ReportError(st);
  if (Status st = WriteOutputFile(o.out, profile.dump(1) + "\n"); !st.ok()) return ReportError(st);
  spdlog::info("fit-profile: {} kernel, {} transfer, {} memory samples, {} launch gaps -> {}", all.kernels.size(),
               all.transfers.size(), all.memory.size(), all.launch_gaps_us.size(), o.out);
  std::fprintf(HumanText({o.out}), "%s\n", report.dump(1).c_str());
  return kExitOk;
}

std::shared_ptr<FitOptions> SetupFitProfile(CLI::App* cmd) {
  auto o = std::make_shared<FitOptions>();
  cmd->add_option("--samples", o->samples, "samples JSON file(s); later files add samples, the last kernel set's "
                                           "geometry wins")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--base", o->base, "profile to start from: a bundled name or a .json path")->capture_default_str();
  cmd->add_option("--out", o->out,
                  "write the fitted profile JSON here ('-' for stdout; the fit report then goes to "
                  "stderr)")
      ->required();
  cmd->add_option("--name", o->name, "profile name (default: the base's)");
  cmd->add_option("--tag", o->tag, "prefix of every fitted number's source (card, date, commit)");
  cmd->add_flag("--one-line", o->one_line,
                "one NVLink line through every point-to-point transfer (idle or beside kernels) and no separate "
                "beside-compute rate: for samples from real runs");
  return o;
}

}  // namespace ringlab::cli
