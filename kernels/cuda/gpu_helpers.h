// Small device helpers of the GPU executor: the ops the attention kernels do not cover (seeded input fill, the
// unfused forward log-sum-exp merge, the backward dK/dV add, -inf fill, element-type -> float32 conversion, a
// one-element max reduction buffer) and the counter-based random numbers that let the CPU reproduce the GPU's inputs.
//
// Plain C++ (no CUDA types): `stream` is a cudaStream_t passed as void*. Each launcher returns Status::Internal with
// the CUDA error when the launch fails.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/status.h"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::gpu {

// Value of element (row, global_token, d) of tensor `tensor` (0 q, 1 k, 2 v, 3 dout) for `seed`: uniform in [-1, 1),
// independent of how the sequence is sharded, so every world size sees the same global inputs.
inline float RandomValue(uint64_t seed, int tensor, int64_t row, int64_t token, int64_t d, int64_t seq, int dim) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + uint64_t(tensor) * 0xD1B54A32D192ED03ull +
               ((uint64_t(row) * uint64_t(seq) + uint64_t(token)) * uint64_t(dim) + uint64_t(d));
  x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull;  // splitmix64 finalizer
  x ^= x >> 27; x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return float(x >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

// bf16 <-> float32 on the host (round to nearest even; NaN stays NaN).
inline uint16_t FloatToBf16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float Bf16BitsToFloat(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// IEEE half <-> float32 on the host.
uint16_t FloatToHalfBits(float f);
float HalfBitsToFloat(uint16_t h);
// Rounds a float to the element type and back (what the GPU will see).
inline float RoundTo(cuda::ElementType e, float f) {
  return e == cuda::ElementType::kBFloat16 ? Bf16BitsToFloat(FloatToBf16Bits(f)) : HalfBitsToFloat(FloatToHalfBits(f));
}

// Where a rank's shard tokens come from: local token t is global token chunk[t / chunk_tokens]*chunk_tokens + t % ..
struct ShardMap {
  static constexpr int kMaxChunks = 8;  // head-tail 2, balanced 4 (core/sharding.h), Ulysses pieces of those
  int64_t shard_tokens = 0, chunk_tokens = 0, seq = 0;
  int chunks = 1;
  int chunk[kMaxChunks] = {};
};

// Fills a [rows][shard_tokens][dim] element-type tensor with RandomValue(seed, tensor, row, global token, d).
Status LaunchRandomFill(cuda::ElementType e, void* dst, int64_t rows, int dim, const ShardMap& map, uint64_t seed,
                             int tensor, void* stream);
// (out, lse) := log-sum-exp merge of themselves with (part_out, part_lse): `heads` × `tokens` rows of `dim` floats,
// rows strided by dim, heads strided by head_stride (out) and lse_head_stride (lse). Rows with part_lse = -inf keep
// the accumulator.
Status LaunchMergeRows(float* out, float* lse, const float* part_out, const float* part_lse, int64_t heads,
                            int64_t tokens, int dim, int64_t head_stride, int64_t lse_head_stride, void* stream);
// acc[i] += part[i] for n floats.
Status LaunchAdd(float* acc, const float* part, int64_t n, void* stream);
// dst[i] := value for n floats.
Status LaunchFill(float* dst, float value, int64_t n, void* stream);
// Holds `stream` for `microseconds` of GPU time (one thread on one SM, sleeping): work the host posts behind it
// meanwhile starts only when it ends, so a timed region begins on the GPU rather than while the host still posts.
Status LaunchGpuSleep(double microseconds, void* stream);
// Holds `stream` until the host sets *flag >= value (flag: host memory mapped into the device, cudaHostAllocMapped),
// or `timeout_us` passes: work posted behind it on several GPUs starts within a bus round trip of the host's release,
// where a timed sleep per GPU would end as far apart as the host took to launch them.
Status LaunchWaitHostFlag(const volatile int* flag, int value, double timeout_us, void* stream);
// SM occupancy probe (calibration): `ctas` CTAs that each need a whole SM (all of its shared memory), each writes its
// start time (the GPU's global timer, ns) to start_ns[cta] and then spins for `spin_us`. Launched while another kernel
// runs, the CTAs that start a spin later are those that found no free SM: how many SMs that kernel occupied.
Status LaunchSmProbe(uint64_t* start_ns, int ctas, double spin_us, void* stream);
// dst[i] := float(src[i]) for n elements of type e.
Status LaunchToFloat(cuda::ElementType e, const void* src, float* dst, int64_t n, void* stream);

}  // namespace ringlab::gpu
