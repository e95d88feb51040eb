// libFuzzer target for the calibration samples reader (FromJson of the samples JSON that `ringlab calibrate` writes
// and `ringlab fit-profile` reads): any bytes must give samples or a Status, never a crash, an uncaught exception or
// a hang. Samples that parse are written back (ToJson must read again) and, when few, fitted onto the bundled
// h100_sxm profile, so the fitter meets whatever the reader lets through.
//   ./viz/fuzz/calibrate_samples_fuzz -max_total_time=600 viz/fuzz/corpus_samples   (scripts/fuzz.sh runs them all)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

// The reader lives in calibrate/ once the calibration wing is split out of sim/; either layout builds.
#if __has_include("calibrate/samples.h")
#include "calibrate/fit/profile_fit.h"
#include "calibrate/samples.h"
namespace cal = ringlab::calibrate;
#else
#include "sim/profile_fit.h"
namespace cal = ringlab::sim;
#endif
#include "sim/profile.h"

namespace {

const nlohmann::json& BaseProfile() {
  static const nlohmann::json base = [] {
    std::ifstream f(ringlab::sim::ProfileDir() + "/h100_sxm.json");
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded()) std::abort();  // the harness itself is broken: say so at once
    return j;
  }();
  return base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  cal::FitInputs in;
  if (!cal::FromJson(j, "fuzz", &in).ok()) return 0;
  // What was read must write back to JSON that reads again.
  cal::FitInputs again;
  if (!cal::FromJson(cal::ToJson(in), "round trip", &again).ok()) std::abort();
  cal::Append(in, &again);
  const size_t samples = in.kernels.size() + in.transfers.size() + in.memory.size() + in.start_waits.size() +
                         in.nccl_held.size() + in.beside_kernels.size();
  if (samples > 64) return 0;  // fitting is the slow part: keep executions fast
  nlohmann::json profile, report;
  cal::FitOptions opt;
  opt.name = "fuzz";
  (void)cal::FitProfile(in, BaseProfile(), opt, &profile, &report);
  return 0;
}
