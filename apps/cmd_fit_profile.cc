// `ringlab fit-profile`: turn measured samples (from `ringlab calibrate` on GPUs, or from real run traces through
// calibrate/scripts/calibrate.py) into a hardware profile the simulator loads. CPU only, so the fit can be redone and
// tested anywhere; the fit itself is calibrate/fit/profile_fit.h.
//
//   ringlab fit-profile --samples cal_samples.json [--samples runs_host.json] --base h100_sxm --out h100_cal.json
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/exit_codes.h"
#include "calibrate/fit/profile_fit.h"
#include "sim/profile.h"

namespace ringlab::cli {

struct FitOptions {
  std::vector<std::string> samples;
  std::string base = sim::kBaseProfile, out, name, tag;
  bool one_line = false;
};

namespace {

Status ReadJson(const std::string& path, nlohmann::json* j) {
  std::ifstream f(path);
  if (!f) return Status::InvalidArgument("cannot open '" + path + "'");
  try {
    f >> *j;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": not valid JSON: " + e.what());
  }
  return Status::Ok();
}

Status BaseProfileJson(const std::string& name_or_path, nlohmann::json* j) {
  const bool path = name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".json");
  return ReadJson(path ? name_or_path : sim::ProfileDir() + "/" + name_or_path + ".json", j);
}

}  // namespace

int RunFitProfile(const FitOptions& o) {
  calibrate::FitInputs all;
  for (size_t i = 0; i < o.samples.size(); ++i) {
    nlohmann::json j;
    calibrate::FitInputs in;
    if (Status st = ReadJson(o.samples[i], &j); !st.ok()) return ReportError(st);
    if (Status st = calibrate::FromJson(j, o.samples[i], &in); !st.ok()) return ReportError(st);
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
  std::ofstream f(o.out);
  f << profile.dump(1) << "\n";
  if (!f) return ReportError(Status::Internal("--out: cannot write '" + o.out + "'"));
  std::fprintf(stderr, "fit-profile: %zu kernel, %zu transfer, %zu memory samples, %zu launch gaps -> %s\n",
               all.kernels.size(), all.transfers.size(), all.memory.size(), all.launch_gaps_us.size(), o.out.c_str());
  std::printf("%s\n", report.dump(1).c_str());
  return kExitOk;
}

std::shared_ptr<FitOptions> SetupFitProfile(CLI::App* cmd) {
  auto o = std::make_shared<FitOptions>();
  cmd->add_option("--samples", o->samples, "samples JSON file(s); later files add samples, the last kernel set's "
                                           "geometry wins")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--base", o->base, "profile to start from: a bundled name or a .json path")->capture_default_str();
  cmd->add_option("--out", o->out, "write the fitted profile JSON here")->required();
  cmd->add_option("--name", o->name, "profile name (default: the base's)");
  cmd->add_option("--tag", o->tag, "prefix of every fitted number's source (card, date, commit)");
  cmd->add_flag("--one-line", o->one_line,
                "one NVLink line through every point-to-point transfer (idle or beside kernels) and no separate "
                "beside-compute rate: for samples from real runs");
  return o;
}

}  // namespace ringlab::cli
