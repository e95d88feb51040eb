// FlashAttention-2 backward preprocess: delta[b,h,i] = sum_d dout[b,h,i,d] * out[b,h,i,d], one warp per row.
#include <cuda_runtime.h>

#include "kernels/cuda/attention_checks.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/attention_tiles.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch_common.h"

namespace ringlab::cuda {
namespace {

using namespace detail;

constexpr int kPrepWarps = tiles::BackwardPrepare::kWarps;

template <typename T, int D>
__global__ void __launch_bounds__(kPrepWarps * 32) BackwardPrepareKernel(const T* dout, const float* out, float* delta,
                                                                         TensorStrides ds, TensorStrides os,
                                                                         TensorStrides ls, int heads, int64_t tokens) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kPrepWarps + (threadIdx.x >> 5);
  if (row >= tokens) return;
  const int b = blockIdx.y / heads, h = blockIdx.y % heads;
  const T* dr = dout + b * ds.batch + h * ds.head + row * D;
  const float* orow = out + b * os.batch + h * os.head + row * D;
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < D / 64; ++i) {
    const int d = i * 64 + lane * 2;
    const float2 o = *reinterpret_cast<const float2*>(orow + d);
    acc += ToFloat(dr[d]) * o.x + ToFloat(dr[d + 1]) * o.y;
  }
#pragma unroll
  for (int w = 16; w > 0; w >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, w);
  if (lane == 0) delta[b * ls.batch + h * ls.head + row] = acc;
}

template <typename T, int D>
Status Launch(const BackwardPrepareParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((p.tokens + kPrepWarps - 1) / kPrepWarps), static_cast<unsigned>(p.batch * p.heads));
  BackwardPrepareKernel<T, D><<<grid, kPrepWarps * 32, 0, stream>>>(static_cast<const T*>(p.dout), p.out, p.delta,
                                                                    p.dout_strides, p.out_strides, p.delta_strides,
                                                                    p.heads, p.tokens);
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::Ok();
}

}  // namespace

Status LaunchBackwardPrepare(const BackwardPrepareParams& p, void* stream) {
  RINGLAB_RETURN_IF_ERROR(CheckBackwardPrepareParams(p));
  if (p.tokens == 0) return Status::Ok();
  auto st = static_cast<cudaStream_t>(stream);
  return DispatchElementAndHeadDim</*kMaxHeadDim=*/256>(p.element, p.head_dim, [&](auto t, auto d) {
    return Launch<decltype(t), decltype(d)::value>(p, st);
  });
}

}  // namespace ringlab::cuda
