// Host side of the TMA loads: the tensor map (CUtensorMap) of one attention operand, a [batch][heads][tokens][head_dim]
// 16-bit tensor with contiguous head_dim rows, read in boxes of 64 columns (128 bytes, the 128-byte swizzle's row)
// by `box_rows` tokens. The swizzle matches wgmma_common.cuh's SW128 tile, so D / 64 box loads side by side fill one
// SW128 tile of box_rows rows. Tokens past `tokens` read as zeros: a block that is a token range inside a larger
// buffer is described by its own token count and the buffer's strides.
//
// cuTensorMapEncodeTiled is a driver API call; it is reached through the runtime's driver entry point, so nothing
// links against libcuda.
#pragma once

#include <cuda.h>

#include <cstdint>

#include "core/status.h"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda {

struct TileMapSpec {
  const void* base = nullptr;  // element (0, 0, 0, 0), 16-byte aligned
  int batch = 1, heads = 1;
  int64_t tokens = 0;
  int head_dim = 128;  // a multiple of 64
  TensorStrides strides;  // elements; multiples of 8
  int box_rows = 128;     // tokens per box, 1..256
  ElementType element = ElementType::kBFloat16;
  // float32 elements instead (the backward's dQ accumulator, written by TMA reduce-add): boxes of 32 columns, still
  // one 128-byte swizzle row; `element` is then ignored.
  bool float32 = false;
};

// Encodes `spec` into `map`. Returns Status::Unavailable when the tensor map cannot describe the operand (an
// overlapping or zero stride, more than 2^31 tokens, no driver entry point): the caller then takes a kernel that
// loads without TMA.
Status EncodeTileMap(const TileMapSpec& spec, CUtensorMap* map);

}  // namespace ringlab::cuda
