// RankRunner: a window/document mask on the GPU: the per-token document bounds on the device (once per run) and the
// kernels' TokenMask of a masked attend block (kernels/cuda/attention_kernels.h).
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cuda/rank_runner.h"

namespace ringlab::gpu::detail {

Status RankRunner::UploadMaskDocuments() {
  if (!p_.mask.HasDocuments()) return Status::Ok();
  if (p_.seq > std::numeric_limits<int32_t>::max())
    return Error("document masks need seq < 2^31 on the GPU (got " + std::to_string(p_.seq) + ")");
  const std::vector<int64_t>& cu = *p_.mask.documents;
  std::vector<int32_t> bounds(size_t(2) * p_.seq);  // doc_start[seq] then doc_end[seq]
  for (size_t d = 0; d + 1 < cu.size(); ++d)
    for (int64_t t = cu[d]; t < cu[d + 1]; ++t) {
      bounds[t] = int32_t(cu[d]);
      bounds[p_.seq + t] = int32_t(cu[d + 1]);
    }
  Buffer b;
  b.bytes = int64_t(bounds.size()) * 4;
  RINGLAB_RETURN_IF_ERROR(Cuda(cudaMalloc(&b.ptr, b.bytes), "cudaMalloc of the mask's document bounds"));
  r_.buffers[{int(kMaskDocuments.kind), int(kMaskDocuments.slot)}] = b;
  return Cuda(cudaMemcpy(b.ptr, bounds.data(), b.bytes, cudaMemcpyHostToDevice), "cudaMemcpy of the document bounds");
}

cuda::TokenMask RankRunner::MaskOf(const AttendBlock& b) const {
  cuda::TokenMask m;
  if (!b.masked) return m;
  const Mask mask = p_.AttentionMask();
  constexpr int64_t kFar = int64_t{1} << 60;
  m.enabled = true;
  m.q_global = b.q_global;
  m.kv_global = b.kv_global;
  m.lo = std::max(mask.LowestOffset(), -kFar);
  m.hi = std::min(mask.HighestOffset(), kFar);
  if (const Buffer* docs = Find(kMaskDocuments)) {
    m.doc_start = static_cast<const int32_t*>(docs->ptr);
    m.doc_end = m.doc_start + p_.seq;
  }
  return m;
}

}  // namespace ringlab::gpu::detail
