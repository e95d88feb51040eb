#include "kernels/cuda/gpu_helpers.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <type_traits>

#include "kernels/cuda/cuda_check.h"

namespace ringlab::gpu {
namespace {

__device__ __forceinline__ float DeviceRandom(uint64_t seed, int tensor, int64_t row, int64_t token, int64_t d,
                                              int64_t seq, int dim) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + uint64_t(tensor) * 0xD1B54A32D192ED03ull +
               ((uint64_t(row) * uint64_t(seq) + uint64_t(token)) * uint64_t(dim) + uint64_t(d));
  x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27; x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return float(x >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

template <typename T>
__device__ __forceinline__ T FromFloat(float f);
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat(float f) { return __float2bfloat16_rn(f); }
template <>
__device__ __forceinline__ __half FromFloat(float f) { return __float2half_rn(f); }

template <typename T>
__global__ void RandomFillKernel(T* dst, int64_t n, int dim, ShardMap map, uint64_t seed, int tensor) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % dim, t = (i / dim) % map.shard_tokens, row = i / (int64_t(dim) * map.shard_tokens);
    const int c = int(t / map.chunk_tokens);
    const int64_t g = int64_t(map.chunk[c]) * map.chunk_tokens + t % map.chunk_tokens;
    dst[i] = FromFloat<T>(DeviceRandom(seed, tensor, row, g, d, map.seq, dim));
  }
}

// One warp per row.
__global__ void MergeRowsKernel(float* out, float* lse, const float* part_out, const float* part_lse, int64_t heads,
                                int64_t tokens, int dim, int64_t head_stride, int64_t lse_head_stride) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;
  if (row >= heads * tokens) return;
  const int64_t h = row / tokens, t = row % tokens;
  const int64_t li = h * lse_head_stride + t, oi = h * head_stride + t * dim;
  const float la = lse[li], lb = part_lse[li];
  if (lb == -INFINITY) return;
  const float m = fmaxf(la, lb);
  const float l = m + logf(expf(la - m) + expf(lb - m));
  const float wa = la == -INFINITY ? 0.f : expf(la - l), wb = expf(lb - l);
  for (int c = threadIdx.x % 32; c < dim; c += 32) out[oi + c] = out[oi + c] * wa + part_out[oi + c] * wb;
  __syncwarp();
  if (threadIdx.x % 32 == 0) lse[li] = l;
}

__global__ void AddKernel(float4* acc, const float4* part, int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4; i += int64_t(gridDim.x) * blockDim.x) {
    float4 a = acc[i];
    const float4 b = part[i];
    a.x += b.x; a.y += b.y; a.z += b.z; a.w += b.w;
    acc[i] = a;
  }
}
__global__ void AddTailKernel(float* acc, const float* part, int64_t begin, int64_t n) {
  const int64_t i = begin + threadIdx.x;
  if (i < n) acc[i] += part[i];
}

__global__ void FillKernel(float* dst, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}

template <typename T>
__global__ void ToFloatKernel(const T* src, float* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if constexpr (sizeof(T) == 2 && std::is_same_v<T, __half>) dst[i] = __half2float(src[i]);
    else dst[i] = __bfloat162float(src[i]);
  }
}

unsigned Blocks(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : b > 65535 * 16 ? 65535 * 16 : b);
}

Status LastError() { return cuda::CudaStatus(cudaGetLastError(), "kernel launch"); }

}  // namespace

uint16_t FloatToHalfBits(float f) { return __half_as_ushort(__float2half_rn(f)); }
float HalfBitsToFloat(uint16_t h) { return __half2float(__ushort_as_half(h)); }

Status LaunchRandomFill(cuda::ElementType e, void* dst, int64_t rows, int dim, const ShardMap& map, uint64_t seed,
                             int tensor, void* stream) {
  const int64_t n = rows * map.shard_tokens * dim;
  if (n == 0) return Status::Ok();
  auto st = static_cast<cudaStream_t>(stream);
  if (e == cuda::ElementType::kBFloat16)
    RandomFillKernel<<<Blocks(n, 256), 256, 0, st>>>(static_cast<__nv_bfloat16*>(dst), n, dim, map, seed, tensor);
  else
    RandomFillKernel<<<Blocks(n, 256), 256, 0, st>>>(static_cast<__half*>(dst), n, dim, map, seed, tensor);
  return LastError();
}

Status LaunchMergeRows(float* out, float* lse, const float* part_out, const float* part_lse, int64_t heads,
                            int64_t tokens, int dim, int64_t head_stride, int64_t lse_head_stride, void* stream) {
  const int64_t rows = heads * tokens;
  if (rows == 0) return Status::Ok();
  const int warps = 8;
  MergeRowsKernel<<<unsigned((rows + warps - 1) / warps), warps * 32, 0, static_cast<cudaStream_t>(stream)>>>(
      out, lse, part_out, part_lse, heads, tokens, dim, head_stride, lse_head_stride);
  return LastError();
}

Status LaunchAdd(float* acc, const float* part, int64_t n, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  const int64_t n4 = n / 4;
  if (n4 > 0) AddKernel<<<Blocks(n4, 256), 256, 0, st>>>(reinterpret_cast<float4*>(acc),
                                                          reinterpret_cast<const float4*>(part), n4);
  if (n % 4) AddTailKernel<<<1, 4, 0, st>>>(acc, part, n4 * 4, n);
  return LastError();
}

__global__ void GpuSleepKernel(uint64_t ns) {
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

Status LaunchGpuSleep(double microseconds, void* stream) {
  if (microseconds <= 0) return Status::Ok();
  GpuSleepKernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(uint64_t(microseconds * 1e3));
  return LastError();
}

__global__ void WaitHostFlagKernel(const volatile int* flag, int value, uint64_t timeout_ns) {
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    if (*flag >= value) return;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < timeout_ns);
}

Status LaunchWaitHostFlag(const volatile int* flag, int value, double timeout_us, void* stream) {
  WaitHostFlagKernel<<<1, 1, 0, static_cast<cudaStream_t>(stream)>>>(flag, value, uint64_t(timeout_us * 1e3));
  return LastError();
}

__global__ void SmProbeKernel(uint64_t* start_ns, uint64_t spin_ns) {
  extern __shared__ unsigned char whole_sm[];  // sized to an SM's shared memory: one CTA per SM, none beside others
  uint64_t start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  if (threadIdx.x == 0) {
    whole_sm[0] = 1;
    start_ns[blockIdx.x] = start;
  }
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < spin_ns);
}

Status LaunchSmProbe(uint64_t* start_ns, int ctas, double spin_us, void* stream) {
  int device = 0, smem = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return LastError();
  cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (cudaFuncSetAttribute(SmProbeKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem) != cudaSuccess)
    return LastError();
  SmProbeKernel<<<ctas, 32, size_t(smem), static_cast<cudaStream_t>(stream)>>>(start_ns, uint64_t(spin_us * 1e3));
  return LastError();
}

Status LaunchFill(float* dst, float value, int64_t n, void* stream) {
  if (n == 0) return Status::Ok();
  FillKernel<<<Blocks(n, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(dst, value, n);
  return LastError();
}

Status LaunchToFloat(cuda::ElementType e, const void* src, float* dst, int64_t n, void* stream) {
  if (n == 0) return Status::Ok();
  auto st = static_cast<cudaStream_t>(stream);
  if (e == cuda::ElementType::kBFloat16)
    ToFloatKernel<<<Blocks(n, 256), 256, 0, st>>>(static_cast<const __nv_bfloat16*>(src), dst, n);
  else
    ToFloatKernel<<<Blocks(n, 256), 256, 0, st>>>(static_cast<const __half*>(src), dst, n);
  return LastError();
}

}  // namespace ringlab::gpu
