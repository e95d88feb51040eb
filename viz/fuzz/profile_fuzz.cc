// libFuzzer target for the hardware profile reader (sim/profile.h): any bytes must give a profile or a Status, never
// a crash, an uncaught exception or a hang. Each input is read as LoadProfile reads a file (from a temporary .json:
// the text path, where checks on the raw text such as duplicate keys live) and, when it is JSON, by ParseProfile.
//   cmake -DRINGLAB_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... && ninja sim_profile_fuzz
//   ./viz/fuzz/sim_profile_fuzz -max_total_time=600 viz/fuzz/corpus_profile   (scripts/fuzz.sh runs them all)
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/profile.h"

namespace {

const std::string& TempPath() {
  static const std::string path = "/tmp/ringlab_profile_fuzz_" + std::to_string(getpid()) + ".json";
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ringlab::sim::HardwareProfile hw;
  {
    std::ofstream(TempPath(), std::ios::binary | std::ios::trunc) << text;
  }
  (void)ringlab::sim::LoadProfile(TempPath(), &hw);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  if (ringlab::sim::ParseProfile(j, "fuzz", &hw).ok()) {
    // Use what parsed: the lookups the simulator makes.
    for (const auto& t : hw.attention) (void)t.TflopsAt(double(size) + 1);
    (void)hw.HeldSmsFor(false, true, int64_t(size));
    (void)ringlab::sim::KernelFirstFraction(hw, true, int(size % 4096) + 1);
  }
  return 0;
}
