// LaunchForward and LaunchBackward: pick the kernel for the current GPU.
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda {

const char* LaunchForward(const ForwardParams& p, void* stream) {
  // The wgmma kernel is compiled for sm_90a only, so it runs on compute capability 9.0 (H100, H200) and nowhere
  // else; RINGLAB_FWD_KERNEL=mma selects the mma.sync kernel everywhere (for comparisons). Read once.
  static const bool force_mma = [] {
    const char* e = std::getenv("RINGLAB_FWD_KERNEL");
    return e != nullptr && std::strcmp(e, "mma") == 0;
  }();
  if (!force_mma && DeviceIsSm90()) return LaunchForwardWgmma(p, stream);
  return LaunchForwardMma(p, stream);
}

const char* LaunchBackward(const BackwardParams& p, void* stream) {
  // On compute capability 9.0 the wgmma kernel; elsewhere v5 (mma.sync, 2-D warp layout). RINGLAB_BWD_KERNEL=v4,
  // v5 or wgmma selects one for comparisons (wgmma still only where it can run). Read once.
  enum class Choice { kDefault, kV4, kV5, kWgmma };
  static const Choice choice = [] {
    const char* e = std::getenv("RINGLAB_BWD_KERNEL");
    if (e == nullptr) return Choice::kDefault;
    if (std::strcmp(e, "v4") == 0 || std::strcmp(e, "4") == 0) return Choice::kV4;
    if (std::strcmp(e, "v5") == 0 || std::strcmp(e, "5") == 0) return Choice::kV5;
    if (std::strcmp(e, "wgmma") == 0) return Choice::kWgmma;
    return Choice::kDefault;
  }();
  if (choice == Choice::kV4) return LaunchBackwardV4(p, stream);
  if (choice == Choice::kV5 || !DeviceIsSm90()) return LaunchBackwardV5(p, stream);
  return LaunchBackwardWgmma(p, stream);
}

}  // namespace ringlab::cuda
