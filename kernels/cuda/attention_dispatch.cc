// LaunchForward and LaunchBackward: pick the kernel for the current GPU.
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda {
namespace {

enum class ForwardKernel { kWs, kWgmma, kMma };

// The Hopper forward taken when RINGLAB_FWD_KERNEL is unset: the warp-specialized kernel.
constexpr ForwardKernel kDefaultForwardKernel = ForwardKernel::kWs;

// RINGLAB_FWD_KERNEL=ws|wgmma|mma, read once; unset (or anything else) means kDefaultForwardKernel.
ForwardKernel ForwardKernelChoice() {
  static const ForwardKernel choice = [] {
    const char* e = std::getenv("RINGLAB_FWD_KERNEL");
    if (e == nullptr) return kDefaultForwardKernel;
    if (std::strcmp(e, "mma") == 0) return ForwardKernel::kMma;
    if (std::strcmp(e, "wgmma") == 0) return ForwardKernel::kWgmma;
    if (std::strcmp(e, "ws") == 0) return ForwardKernel::kWs;
    return kDefaultForwardKernel;
  }();
  return choice;
}

}  // namespace

Status LaunchForward(const ForwardParams& p, void* stream) {
  // The Hopper kernels are compiled for sm_90a only, so they run on compute capability 9.0 (H100, H200) and nowhere
  // else. The warp-specialized kernel answers Unavailable where its tensor maps cannot describe the operands (odd
  // strides): the wgmma kernel, which loads with cp.async, takes those.
  const ForwardKernel kernel = ForwardKernelChoice();
  if (kernel != ForwardKernel::kMma && DeviceIsSm90()) {
    if (kernel == ForwardKernel::kWs) {
      Status st = LaunchForwardWs(p, stream);
      if (!st.IsUnavailable()) return st;
    }
    return LaunchForwardWgmma(p, stream);
  }
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
