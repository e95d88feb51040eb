// LaunchForward and LaunchBackward: pick the kernel for the current GPU.
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda {

Status LaunchForward(const ForwardParams& p, void* stream) {
  // The wgmma kernel is compiled for sm_90a only, so it runs on compute capability 9.0 (H100, H200) and nowhere
  // else; RINGLAB_FWD_KERNEL=mma selects the mma.sync kernel everywhere (for comparisons). Read once.
  static const bool force_mma = [] {
    const char* e = std::getenv("RINGLAB_FWD_KERNEL");
    return e != nullptr && std::strcmp(e, "mma") == 0;
  }();
  if (!force_mma && DeviceIsSm90()) return LaunchForwardWgmma(p, stream);
  return LaunchForwardMma(p, stream);
}

Status LaunchBackward(const BackwardParams& p, void* stream) {
  // On compute capability 9.0 the wgmma kernel; elsewhere mma (mma.sync, 2-D warp layout). RINGLAB_BWD_KERNEL=mma
  // selects the mma kernel everywhere for comparisons ("v5", its former name, too); wgmma, the default, runs only
  // where it can. Read once.
  static const bool force_mma = [] {
    const char* e = std::getenv("RINGLAB_BWD_KERNEL");
    return e != nullptr && (std::strcmp(e, "mma") == 0 || std::strcmp(e, "v5") == 0 || std::strcmp(e, "5") == 0);
  }();
  if (!force_mma && DeviceIsSm90()) return LaunchBackwardWgmma(p, stream);
  return LaunchBackwardMma(p, stream);
}

}  // namespace ringlab::cuda
