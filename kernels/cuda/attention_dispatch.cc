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

enum class BackwardKernel { kWs, kWs1, kWgmma, kMma };

// The Hopper backward taken when RINGLAB_BWD_KERNEL is unset: the warp-specialized one since it passed its tests and
// benchmarks on an H100 (bench/results/kernels_h100.md), with dQ added by TMA reduce-add (ws: 1.20-1.39x the atomic
// version ws1 there).
constexpr BackwardKernel kDefaultBackwardKernel = BackwardKernel::kWs;

// RINGLAB_BWD_KERNEL=ws|ws1|wgmma|mma (mma also as "v5" or "5", its former names), read once; unset (or anything else)
// means kDefaultBackwardKernel.
BackwardKernel BackwardKernelChoice() {
  static const BackwardKernel choice = [] {
    const char* e = std::getenv("RINGLAB_BWD_KERNEL");
    if (e == nullptr) return kDefaultBackwardKernel;
    if (std::strcmp(e, "mma") == 0 || std::strcmp(e, "v5") == 0 || std::strcmp(e, "5") == 0) return BackwardKernel::kMma;
    if (std::strcmp(e, "wgmma") == 0) return BackwardKernel::kWgmma;
    if (std::strcmp(e, "ws") == 0) return BackwardKernel::kWs;
    if (std::strcmp(e, "ws1") == 0) return BackwardKernel::kWs1;
    return kDefaultBackwardKernel;
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
  // As LaunchForward: the Hopper kernels on compute capability 9.0, mma elsewhere; the warp-specialized kernel hands
  // operands its tensor maps cannot describe to the wgmma kernel.
  const BackwardKernel kernel = BackwardKernelChoice();
  if (kernel != BackwardKernel::kMma && DeviceIsSm90()) {
    if (kernel == BackwardKernel::kWs || kernel == BackwardKernel::kWs1) {
      Status st = kernel == BackwardKernel::kWs ? LaunchBackwardWs(p, stream) : LaunchBackwardWsAtomicDq(p, stream);
      if (!st.IsUnavailable()) return st;
    }
    return LaunchBackwardWgmma(p, stream);
  }
  return LaunchBackwardMma(p, stream);
}

}  // namespace ringlab::cuda
