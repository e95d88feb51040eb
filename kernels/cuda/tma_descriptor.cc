#include "kernels/cuda/tma_descriptor.h"

#include <cuda_runtime.h>
#include <cudaTypedefs.h>

#include <string>

namespace ringlab::cuda {
namespace {

// cuTensorMapEncodeTiled through the runtime's driver entry point (ABI of CUDA 12.0), looked up once.
PFN_cuTensorMapEncodeTiled_v12000 EncodeFunction() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult found = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess)
      p = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

}  // namespace

Status EncodeTileMap(const TileMapSpec& s, CUtensorMap* map) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = EncodeFunction();
  if (encode == nullptr) return Status::Unavailable("EncodeTileMap: the driver has no cuTensorMapEncodeTiled");
  if (s.head_dim % 64 != 0 || s.box_rows < 1 || s.box_rows > 256)
    return Status::InvalidArgument("EncodeTileMap: head_dim must be a multiple of 64 and box_rows in 1..256");
  const uint64_t elem = s.float32 ? 4 : 2;
  // A zero-length block is never read (no tile is loaded); it still needs a valid map.
  const uint64_t tokens = s.tokens > 0 ? static_cast<uint64_t>(s.tokens) : 1;
  if (tokens >= (uint64_t{1} << 31)) return Status::Unavailable("EncodeTileMap: more than 2^31 tokens");
  const uint64_t row_bytes = static_cast<uint64_t>(s.head_dim) * elem;
  // A dimension of extent 1 is never stepped, so its stride is free: give it the packed value the encoder accepts.
  const uint64_t head_bytes =
      s.heads > 1 ? static_cast<uint64_t>(s.strides.head) * elem : row_bytes * tokens;
  const uint64_t batch_bytes =
      s.batch > 1 ? static_cast<uint64_t>(s.strides.batch) * elem : head_bytes * static_cast<uint64_t>(s.heads);
  if ((s.heads > 1 && s.strides.head <= 0) || (s.batch > 1 && s.strides.batch <= 0))
    return Status::Unavailable("EncodeTileMap: zero or negative strides");
  const cuuint64_t dims[4] = {static_cast<cuuint64_t>(s.head_dim), tokens, static_cast<cuuint64_t>(s.heads),
                              static_cast<cuuint64_t>(s.batch)};
  const cuuint64_t strides[3] = {row_bytes, head_bytes, batch_bytes};  // bytes, dims 1..3
  const cuuint32_t box[4] = {static_cast<cuuint32_t>(128 / elem), static_cast<cuuint32_t>(s.box_rows), 1, 1};
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  const CUtensorMapDataType type = s.float32                               ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32
                                   : s.element == ElementType::kBFloat16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                                                         : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  const CUresult r = encode(map, type, 4, const_cast<void*>(s.base), dims, strides, box, element_strides,
                            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    return Status::Unavailable("EncodeTileMap: cuTensorMapEncodeTiled refused the operand (CUresult " +
                               std::to_string(static_cast<int>(r)) + ")");
  return Status::Ok();
}

}  // namespace ringlab::cuda
