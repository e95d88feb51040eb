// Ulysses all-to-all packing (OpKind::kAllToAll, semantics in core/ulysses_layout.h): where every element of one
// rank's sequence-sharded tensor (all heads over its S/W-token piece) and head-sharded tensor (its heads over the
// S/R-token ring shard) sits in the exchange's per-member slots. Pure index arithmetic, compiled for the host (the CPU
// test checks it against UlyssesLayout's sharding) and the device (ulysses_pack.cu gathers with it, one thread per
// element written).
//
// Slots: member v's slot holds halves × [B][n][piece][inner] (n = heads one member holds after the exchange), the
// part that travels between this rank and member v. Sequence→head: pack slot v from my piece's heads of v, exchange,
// unpack slot v into tokens [v·piece, (v+1)·piece) of my head rows. Head→sequence: pack slot v from those tokens of
// my head rows, exchange, unpack slot v into v's heads of my piece; a K/V head held by several members (U > Hkv) is
// the sum of its replicas.
//
//   AllToAllShape s{.members = 4, .halves = 2, .batch = 1, .all_heads = 2, .member_heads = 1, .piece = 64, .inner = 128};
//   for (int64_t e = 0; e < s.SlotsElems(); ++e) send[e] = seq_piece[s.SeqIndexOfSlot(e)];
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

#if defined(__CUDACC__)
#define RINGLAB_HOST_DEVICE __host__ __device__
#else
#define RINGLAB_HOST_DEVICE
#endif

namespace ringlab::gpu {

// One rank's tensor of one all-to-all: `halves` × [batch][heads][tokens][inner] (halves = 2 for K/V and dK/dV).
struct AllToAllShape {
  int members = 1;       // U: the Ulysses group
  int halves = 1;        // 2 for K/V (K then V), else 1
  int batch = 1;
  int all_heads = 1;     // heads of the sequence-sharded tensor: H, or Hkv for K/V
  int member_heads = 1;  // heads one member holds after the exchange: H/U, or max(1, Hkv/U)
  int64_t piece = 1;     // tokens of one rank's piece (S/W)
  int64_t inner = 1;     // head dim, or 1 for lse and delta

  RINGLAB_HOST_DEVICE int64_t Shard() const { return members * piece; }  // tokens of the ring shard (S/R)
  RINGLAB_HOST_DEVICE int64_t SlotElems() const { return int64_t(halves) * batch * member_heads * piece * inner; }
  RINGLAB_HOST_DEVICE int64_t SlotsElems() const { return members * SlotElems(); }
  RINGLAB_HOST_DEVICE int64_t SeqElems() const { return int64_t(halves) * batch * all_heads * piece * inner; }
  RINGLAB_HOST_DEVICE int64_t HeadElems() const { return int64_t(halves) * batch * member_heads * Shard() * inner; }
  // First head (of the sequence-sharded numbering) member v holds: ⌊v·all_heads/U⌋, UlyssesLayout's rule for Q and
  // K/V alike.
  RINGLAB_HOST_DEVICE int FirstHead(int v) const { return int(int64_t(v) * all_heads / members); }
  // Members holding head `hd`: [*first, *first + *count); count > 1 only for replicated K/V heads (U > Hkv).
  RINGLAB_HOST_DEVICE void MembersOfHead(int hd, int* first, int* count) const {
    if (members <= all_heads) {
      *first = hd / member_heads;
      *count = 1;
    } else {
      *count = members / all_heads;
      *first = hd * *count;
    }
  }

  // Slot element e = ((((v·halves + h)·batch + b)·n + i)·piece + t)·inner + x ↔ the sequence-sharded element
  // (h, b, FirstHead(v) + i, t, x) and the head-sharded element (h, b, i, v·piece + t, x).
  RINGLAB_HOST_DEVICE int64_t SeqIndexOfSlot(int64_t e) const {
    const int64_t x = e % inner, t = (e / inner) % piece, row = e / (inner * piece);  // row: (v, h, b, i)
    const int i = int(row % member_heads), b = int((row / member_heads) % batch);
    const int h = int((row / (int64_t(member_heads) * batch)) % halves), v = int(row / (int64_t(member_heads) * batch * halves));
    return (((int64_t(h) * batch + b) * all_heads + FirstHead(v) + i) * piece + t) * inner + x;
  }
  RINGLAB_HOST_DEVICE int64_t HeadIndexOfSlot(int64_t e) const {
    const int64_t x = e % inner, t = (e / inner) % piece, row = e / (inner * piece);
    const int64_t hbi = row % (int64_t(halves) * batch * member_heads);  // (h, b, i): the head row
    const int v = int(row / (int64_t(halves) * batch * member_heads));
    return (hbi * Shard() + v * piece + t) * inner + x;
  }
  // The slot element a head-sharded element comes from (sequence→head) or goes to (head→sequence).
  RINGLAB_HOST_DEVICE int64_t SlotOfHeadIndex(int64_t q) const {
    const int64_t x = q % inner, tok = (q / inner) % Shard(), hbi = q / (inner * Shard());
    const int64_t v = tok / piece, t = tok % piece;
    return ((v * halves * batch * member_heads + hbi) * piece + t) * inner + x;
  }
  // The slot element of replica k (k < count of MembersOfHead) of a sequence-sharded element.
  RINGLAB_HOST_DEVICE int64_t SlotOfSeqIndex(int64_t q, int k) const {
    const int64_t x = q % inner, t = (q / inner) % piece, row = q / (inner * piece);  // row: (h, b, head)
    const int hd = int(row % all_heads);
    const int64_t hb = row / all_heads;
    int first = 0, count = 1;
    MembersOfHead(hd, &first, &count);
    const int v = first + k;
    return (((int64_t(v) * halves * batch + hb) * member_heads + (hd - FirstHead(v))) * piece + t) * inner + x;
  }
};

// Host versions of the device gathers (ulysses_pack.cu), element by element: the reference the GPU test compares
// the kernels with, and what the CPU test runs an emulated exchange with.
template <typename T>
std::vector<T> PackOnHost(const AllToAllShape& s, bool to_heads, const std::vector<T>& src) {
  std::vector<T> slots(s.SlotsElems());
  for (int64_t e = 0; e < s.SlotsElems(); ++e) slots[e] = src[to_heads ? s.SeqIndexOfSlot(e) : s.HeadIndexOfSlot(e)];
  return slots;
}

// `slots`: the received slots, member v's at v·SlotElems() (the rank's own slot included).
template <typename T>
std::vector<T> UnpackOnHost(const AllToAllShape& s, bool to_heads, const std::vector<T>& slots) {
  if (to_heads) {
    std::vector<T> dst(s.HeadElems());
    for (int64_t q = 0; q < s.HeadElems(); ++q) dst[q] = slots[s.SlotOfHeadIndex(q)];
    return dst;
  }
  std::vector<T> dst(s.SeqElems());
  for (int64_t q = 0; q < s.SeqElems(); ++q) {
    int first = 0, count = 1;
    s.MembersOfHead(int((q / (s.inner * s.piece)) % s.all_heads), &first, &count);
    T sum = slots[s.SlotOfSeqIndex(q, 0)];
    for (int k = 1; k < count; ++k) sum += slots[s.SlotOfSeqIndex(q, k)];
    dst[q] = sum;
  }
  return dst;
}

// The device gathers, on `stream` (a cudaStream_t passed as void*), one thread per element written. Elements are
// `elem_bytes` wide: 2 (bf16/fp16 bits, copied) or 4 (float32: copied, replicated K/V heads summed head→sequence).
// `slots` holds every member's slot, the rank's own included. InvalidArgument for other widths, or replicas of
// 2-byte elements (no all-to-all of the schedules sums those); Internal when the launch fails.
Status LaunchAllToAllPack(const AllToAllShape& s, bool to_heads, const void* src, void* slots, int elem_bytes,
                          void* stream);
Status LaunchAllToAllUnpack(const AllToAllShape& s, bool to_heads, const void* slots, void* dst, int elem_bytes,
                            void* stream);

}  // namespace ringlab::gpu
