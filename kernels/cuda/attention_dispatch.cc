// LaunchForward: picks the forward kernel for the current GPU.
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

}  // namespace ringlab::cuda
