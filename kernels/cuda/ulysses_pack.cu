// The Ulysses all-to-all's pack and unpack gathers (ulysses_pack.h): one thread per element written, its source from
// AllToAllShape's index arithmetic, the same functions the CPU test checks on the host.
#include "kernels/cuda/ulysses_pack.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/cuda/cuda_check.h"

namespace ringlab::gpu {
namespace {

constexpr int kThreads = 256;

unsigned GridFor(int64_t n) { return unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, 1 << 20)); }

// slots[e] := src[index of slot element e in the sequence- (to_heads) or head-sharded source].
template <typename T>
__global__ void PackKernel(AllToAllShape s, bool to_heads, const T* __restrict__ src, T* __restrict__ slots) {
  const int64_t n = s.SlotsElems();
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x)
    slots[e] = src[to_heads ? s.SeqIndexOfSlot(e) : s.HeadIndexOfSlot(e)];
}

// Sequence→head: head-sharded element q := its slot element.
template <typename T>
__global__ void UnpackToHeadsKernel(AllToAllShape s, const T* __restrict__ slots, T* __restrict__ dst) {
  const int64_t n = s.HeadElems();
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < n; q += int64_t(gridDim.x) * blockDim.x)
    dst[q] = slots[s.SlotOfHeadIndex(q)];
}

// Head→sequence: sequence-sharded element q := the sum of its replicas' slot elements (one when not replicated).
template <typename T>
__global__ void UnpackToSequenceKernel(AllToAllShape s, const T* __restrict__ slots, T* __restrict__ dst) {
  const int64_t n = s.SeqElems();
  for (int64_t q = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; q < n; q += int64_t(gridDim.x) * blockDim.x) {
    int first = 0, count = 1;
    s.MembersOfHead(int((q / (s.inner * s.piece)) % s.all_heads), &first, &count);
    T sum = slots[s.SlotOfSeqIndex(q, 0)];
    for (int k = 1; k < count; ++k) sum += slots[s.SlotOfSeqIndex(q, k)];
    dst[q] = sum;
  }
}

Status CheckWidth(const AllToAllShape& s, bool to_heads, int elem_bytes) {
  if (elem_bytes != 2 && elem_bytes != 4)
    return Status::InvalidArgument("all-to-all element width " + std::to_string(elem_bytes) + ": allowed 2 or 4");
  if (elem_bytes == 2 && !to_heads && s.members > s.all_heads)
    return Status::InvalidArgument("all-to-all: replicated heads are summed in float32 only");
  return Status::Ok();
}

Status Launched() { return cuda::CudaStatus(cudaGetLastError(), "all-to-all pack/unpack launch"); }

}  // namespace

Status LaunchAllToAllPack(const AllToAllShape& s, bool to_heads, const void* src, void* slots, int elem_bytes,
                          void* stream) {
  RINGLAB_RETURN_IF_ERROR(CheckWidth(s, true, elem_bytes));
  const int64_t n = s.SlotsElems();
  if (n == 0) return Status::Ok();
  auto st = static_cast<cudaStream_t>(stream);
  if (elem_bytes == 2)
    PackKernel<<<GridFor(n), kThreads, 0, st>>>(s, to_heads, static_cast<const uint16_t*>(src),
                                                static_cast<uint16_t*>(slots));
  else
    PackKernel<<<GridFor(n), kThreads, 0, st>>>(s, to_heads, static_cast<const float*>(src), static_cast<float*>(slots));
  return Launched();
}

Status LaunchAllToAllUnpack(const AllToAllShape& s, bool to_heads, const void* slots, void* dst, int elem_bytes,
                            void* stream) {
  RINGLAB_RETURN_IF_ERROR(CheckWidth(s, to_heads, elem_bytes));
  auto st = static_cast<cudaStream_t>(stream);
  const int64_t n = to_heads ? s.HeadElems() : s.SeqElems();
  if (n == 0) return Status::Ok();
  if (to_heads && elem_bytes == 2)
    UnpackToHeadsKernel<<<GridFor(n), kThreads, 0, st>>>(s, static_cast<const uint16_t*>(slots),
                                                         static_cast<uint16_t*>(dst));
  else if (to_heads)
    UnpackToHeadsKernel<<<GridFor(n), kThreads, 0, st>>>(s, static_cast<const float*>(slots), static_cast<float*>(dst));
  else if (elem_bytes == 2)
    UnpackToSequenceKernel<<<GridFor(n), kThreads, 0, st>>>(s, static_cast<const uint16_t*>(slots),
                                                            static_cast<uint16_t*>(dst));
  else
    UnpackToSequenceKernel<<<GridFor(n), kThreads, 0, st>>>(s, static_cast<const float*>(slots),
                                                            static_cast<float*>(dst));
  return Launched();
}

}  // namespace ringlab::gpu
