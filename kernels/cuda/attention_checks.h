// Argument checks shared by the attention launchers (host only).
#pragma once

#include <cstdint>

#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda {

// Empty string when the shape is supported, else a message naming the field and the allowed values.
const char* CheckBlockShape(const BlockShape& s);

// Empty string when the forward parameters are usable (shape, pointers, alignment, strides); defined in
// attention_forward.cu and shared by the forward kernels.
const char* CheckForwardParams(const ForwardParams& p);

// True when the current device has compute capability 9.0 (the sm_90a kernels run there and nowhere else).
// Cached per device; defined in attention_checks.cc.
bool DeviceIsSm90();

// Empty string when the backward parameters are usable (shape, pointers, alignment, strides); defined in
// attention_backward.cu and shared by the backward variants.
const char* CheckBackwardParams(const BackwardParams& p);

inline bool Aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace ringlab::cuda
