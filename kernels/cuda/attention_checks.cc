#include "kernels/cuda/attention_checks.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>

#include "kernels/cuda/cuda_check.h"

namespace ringlab::cuda {

Status CheckBlockShape(const BlockShape& s, int max_head_dim) {
  auto bad = [](const char* message) { return Status::InvalidArgument(message); };
  if (max_head_dim >= 256) {
    if (s.head_dim != 64 && s.head_dim != 128 && s.head_dim != 256)
      return bad("BlockShape.head_dim: must be 64, 128 or 256");
  } else if (s.head_dim != 64 && s.head_dim != 128) {
    return bad("BlockShape.head_dim: must be 64 or 128 (256: the warp-specialized kernels on compute capability 9.0, "
               "LaunchForwardWs/LaunchBackwardWs, without window/document masks)");
  }
  if (s.batch < 1) return bad("BlockShape.batch: must be >= 1");
  if (s.heads < 1 || s.kv_heads < 1) return bad("BlockShape.heads/kv_heads: must be >= 1");
  if (s.heads % s.kv_heads != 0) return bad("BlockShape.kv_heads: must divide heads");
  if (s.q_tokens < 0 || s.kv_tokens < 0) return bad("BlockShape.q_tokens/kv_tokens: must be >= 0");
  if (s.scale < 0.f) return bad("BlockShape.scale: must be > 0 (or 0 for 1/sqrt(head_dim))");
  if (s.element != ElementType::kBFloat16 && s.element != ElementType::kFloat16)
    return bad("BlockShape.element: must be kBFloat16 or kFloat16");
  return Status::Ok();
}

Status CheckForwardParams(const ForwardParams& p, int max_head_dim) {
  RINGLAB_RETURN_IF_ERROR(CheckBlockShape(p.shape, max_head_dim));
  auto bad = [](const char* message) { return Status::InvalidArgument(message); };
  const BlockShape& s = p.shape;
  if (s.q_tokens == 0) return Status::Ok();
  if (!p.q || !p.k || !p.v || !p.out_acc || !p.lse_acc)
    return bad("ForwardParams: q, k, v, out_acc and lse_acc must be set");
  if (!Aligned(p.q, 16) || !Aligned(p.k, 16) || !Aligned(p.v, 16))
    return bad("ForwardParams: q, k and v must be 16-byte aligned");
  if (!Aligned(p.out_acc, 8)) return bad("ForwardParams: out_acc must be 8-byte aligned");
  for (const TensorStrides* t : {&p.q_strides, &p.k_strides, &p.v_strides})
    if (t->batch % 8 || t->head % 8) return bad("ForwardParams: q/k/v batch and head strides must be multiples of 8");
  if (p.out_strides.batch % 2 || p.out_strides.head % 2)
    return bad("ForwardParams: out batch and head strides must be even");
  if (int64_t{s.batch} * s.heads > 65535) return bad("BlockShape: batch * heads must be at most 65535");
  return Status::Ok();
}

Status CheckBackwardParams(const BackwardParams& p, int max_head_dim) {
  RINGLAB_RETURN_IF_ERROR(CheckBlockShape(p.shape, max_head_dim));
  auto bad = [](const char* message) { return Status::InvalidArgument(message); };
  const BlockShape& s = p.shape;
  if (s.kv_tokens == 0) return Status::Ok();
  if (!p.k || !p.v || !p.dk || !p.dv) return bad("BackwardParams: k, v, dk and dv must be set");
  if (s.q_tokens > 0 && (!p.q || !p.dout || !p.lse || !p.delta || !p.dq))
    return bad("BackwardParams: q, dout, lse, delta and dq must be set");
  if (!Aligned(p.q, 16) || !Aligned(p.k, 16) || !Aligned(p.v, 16) || !Aligned(p.dout, 16))
    return bad("BackwardParams: q, k, v and dout must be 16-byte aligned");
  if (!Aligned(p.dq, 16) || !Aligned(p.dk, 8) || !Aligned(p.dv, 8))
    return bad("BackwardParams: dq must be 16-byte and dk, dv 8-byte aligned");
  if (p.dq_strides.batch % 4 || p.dq_strides.head % 4) return bad("BackwardParams: dq strides must be multiples of 4");
  for (const TensorStrides* t : {&p.q_strides, &p.k_strides, &p.v_strides, &p.dout_strides})
    if (t->batch % 8 || t->head % 8)
      return bad("BackwardParams: q/k/v/dout batch and head strides must be multiples of 8");
  for (const TensorStrides* t : {&p.dq_strides, &p.dk_strides, &p.dv_strides})
    if (t->batch % 2 || t->head % 2) return bad("BackwardParams: dq/dk/dv batch and head strides must be even");
  if (int64_t{s.batch} * s.kv_heads > 65535) return bad("BlockShape: batch * kv_heads must be at most 65535");
  return Status::Ok();
}

Status CheckBackwardPrepareParams(const BackwardPrepareParams& p) {
  auto bad = [](const char* message) { return Status::InvalidArgument(message); };
  if (p.head_dim != 64 && p.head_dim != 128 && p.head_dim != 256)
    return bad("BackwardPrepareParams.head_dim: must be 64, 128 or 256");
  if (p.batch < 1 || p.heads < 1 || p.tokens < 0) return bad("BackwardPrepareParams: batch, heads >= 1, tokens >= 0");
  if (p.tokens == 0) return Status::Ok();
  if (!p.dout || !p.out || !p.delta) return bad("BackwardPrepareParams: dout, out and delta must be set");
  if (!Aligned(p.dout, 4) || !Aligned(p.out, 8) || p.out_strides.batch % 2 || p.out_strides.head % 2 ||
      p.dout_strides.batch % 2 || p.dout_strides.head % 2)
    return bad("BackwardPrepareParams: dout must be 4-byte and out 8-byte aligned, with even strides");
  if (p.batch * p.heads > 65535) return bad("BackwardPrepareParams: batch * heads must be at most 65535");
  return Status::Ok();
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

Status MultiprocessorCount(int* sms) {
  static std::atomic<int> cache[64] = {};  // 0 = not asked yet
  int device = 0;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  std::atomic<int>& known = cache[device < 64 ? device : 63];
  if (known.load() == 0) {
    int count = 0;
    RINGLAB_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, device));
    known.store(count);
  }
  *sms = known.load();
  return Status::Ok();
}

Status MaskedPersistentCtas(int64_t tiles, int* ctas) {
  int sms = 0;
  RINGLAB_RETURN_IF_ERROR(MultiprocessorCount(&sms));
  int64_t cap = sms;
  if (const char* e = std::getenv("RINGLAB_MASKED_PERSISTENT")) {
    char* end = nullptr;
    const long n = std::strtol(e, &end, 10);
    if (end != e && *end == '\0' && n >= 0) cap = std::min<int64_t>(n, sms);
  }
  *ctas = static_cast<int>(std::min(tiles, cap));
  return Status::Ok();
}

Status ZeroedTileCounter(void* stream, unsigned long long** counter) {
  int device = 0;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  static std::mutex mu;
  static std::map<std::pair<int, void*>, unsigned long long*> counters;  // never freed: 8 bytes per stream used
  {
    std::lock_guard<std::mutex> lock(mu);
    unsigned long long*& c = counters[{device, stream}];
    if (c == nullptr) {
      void* p = nullptr;
      RINGLAB_CUDA_RETURN_IF_ERROR(cudaMalloc(&p, sizeof(unsigned long long)));
      c = static_cast<unsigned long long*>(p);
    }
    *counter = c;
  }
  RINGLAB_CUDA_RETURN_IF_ERROR(
      cudaMemsetAsync(*counter, 0, sizeof(unsigned long long), static_cast<cudaStream_t>(stream)));
  return Status::Ok();
}

}  // namespace ringlab::cuda
