// Argument checks of the attention launchers (host only): each returns Status::InvalidArgument naming the field and
// the allowed values, or Ok when the kernels support the parameters. Also the launchers' other host helpers: device
// queries, the persistent kernels' CTA count and tile counter.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "kernels/cuda/attention_kernels.h"

namespace ringlab::cuda {

// max_head_dim: 128 for the kernels built for head dims 64 and 128, 256 for those that also take 256.
Status CheckBlockShape(const BlockShape& s, int max_head_dim = 128);

// Shape, pointers, alignment and strides; shared by the forward kernels.
Status CheckForwardParams(const ForwardParams& p, int max_head_dim = 128);

// Shape, pointers, alignment and strides; shared by the backward kernels (max_head_dim as above).
Status CheckBackwardParams(const BackwardParams& p, int max_head_dim = 128);

Status CheckBackwardPrepareParams(const BackwardPrepareParams& p);

// True when the current device has compute capability 9.0 (the sm_90a kernels run there and nowhere else).
// Cached per device.
bool DeviceIsSm90();

// The current device's streaming multiprocessors (a persistent kernel launches one CTA per SM). Cached per device.
Status MultiprocessorCount(int* sms);

// CTAs of the persistent masked ws forward over `tiles` query tiles, from RINGLAB_MASKED_PERSISTENT (read at each
// launch): unset (or not a number), one per SM; "0", none: the kernel runs one tile per CTA (the A/B baseline of
// bench/kernels/device_mask_call.sh); N > 0, at most N, so that the tests' small problems walk many tiles per CTA.
// Never more than `tiles`.
Status MaskedPersistentCtas(int64_t tiles, int* ctas);

// A persistent kernel's tile counter for a launch on `stream`, zeroed in stream order (cudaMemsetAsync) before the
// launch that follows: one counter per (device, stream), allocated on first use and kept, so launches on one stream
// (which run one after another) share it and launches on different streams never do. A stream destroyed while its
// work still runs must not be replaced by a new one of the same handle that launches at once (the new launch's zeroing
// would reach the running kernel's counter).
Status ZeroedTileCounter(void* stream, unsigned long long** counter);

inline bool Aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace ringlab::cuda
