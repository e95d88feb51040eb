// Argument checks shared by the attention launchers (host only).
#pragma once

#include <cstdint>

#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda {

// Empty string when the shape is supported, else a message naming the field and the allowed values.
const char* CheckBlockShape(const BlockShape& s);

// Empty string when the backward parameters are usable (shape, pointers, alignment, strides); defined in
// attention_backward.cu and shared by the backward variants.
const char* CheckBackwardParams(const BackwardParams& p);

inline bool Aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace ringlab::cuda
