#include "kernels/cuda/attention_checks.h"

#include <cuda_runtime.h>

#include <atomic>

namespace ringlab::cuda {

const char* CheckBlockShape(const BlockShape& s) {
  if (s.head_dim != 64 && s.head_dim != 128) return "BlockShape.head_dim: must be 64 or 128";
  if (s.batch < 1) return "BlockShape.batch: must be >= 1";
  if (s.heads < 1 || s.kv_heads < 1) return "BlockShape.heads/kv_heads: must be >= 1";
  if (s.heads % s.kv_heads != 0) return "BlockShape.kv_heads: must divide heads";
  if (s.q_tokens < 0 || s.kv_tokens < 0) return "BlockShape.q_tokens/kv_tokens: must be >= 0";
  if (s.scale < 0.f) return "BlockShape.scale: must be > 0 (or 0 for 1/sqrt(head_dim))";
  if (s.element != ElementType::kBFloat16 && s.element != ElementType::kFloat16)
    return "BlockShape.element: must be kBFloat16 or kFloat16";
  return "";
}

bool DeviceIsSm90() {
  // 0 = not asked yet, 1 = 9.0, 2 = anything else (or the query failed: then the portable kernel runs).
  static std::atomic<uint8_t> cache[64] = {};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  if (device >= 64) device = 63;  // beyond 64 devices share the last slot: all GPUs of a node are one kind
  uint8_t known = cache[device].load();
  if (known == 0) {
    int major = 0, minor = 0;
    const bool ok = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
                    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess;
    known = ok && major == 9 && minor == 0 ? 1 : 2;
    cache[device].store(known);
  }
  return known == 1;
}

}  // namespace ringlab::cuda
