// Mask: which (query, key) token pairs attention may use, shared by the schedule, the executors and the simulator.
//
// A mask is causal or full, optionally narrowed by a sliding window (a query at global token q sees keys in
// [q − left, q + right]) and by document boundaries (packed documents, cu_seqlens: a query sees only keys of its
// own document). All three combine: document-causal with a window is {causal, window, documents}.
// Positions are global token indices (0..seq). The schedule cuts work into blocks (a query range × a key range);
// Classify says whether a block is empty, full or partial and how many pairs it computes, which is what the
// schedule drops, what kernels skip and what FLOPs count.
//
//   MaskShape shape{.window_left = 4096, .window_right = 0};
//   Mask mask(/*causal=*/true, shape);
//   BlockVisibility v = mask.Classify(/*q=*/0, 512, /*k=*/0, 512);  // partial, 512·513/2 visible pairs
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ringlab {

// What narrows a causal or full mask. Default: nothing (the plain causal/full mask).
struct MaskShape {
  int64_t window_left = -1;   // query q sees keys k >= q − window_left; −1: unlimited
  int64_t window_right = -1;  // query q sees keys k <= q + window_right; −1: unlimited
  // Document starts then the sequence end (cu_seqlens: 0 = s_0 < s_1 < ... < s_n = seq); null: one document.
  std::shared_ptr<const std::vector<int64_t>> documents;
  // Where the documents came from, for descriptions ("lognormal:seed=1", "file:docs.txt"); empty without documents.
  std::string documents_name;

  bool HasWindow() const { return window_left >= 0 || window_right >= 0; }
  bool HasDocuments() const { return documents != nullptr; }
  // Nothing narrows the mask: schedules and kernels take the plain causal/full path.
  bool IsPlain() const { return !HasWindow() && !HasDocuments(); }
  int64_t DocumentCount() const { return documents ? int64_t(documents->size()) - 1 : 1; }
};

enum class BlockKind : uint8_t { kEmpty, kFull, kPartial };
std::string_view BlockKindName(BlockKind k);

// How a mask treats one block (a query range × a key range).
struct BlockVisibility {
  BlockKind kind = BlockKind::kEmpty;
  int64_t visible = 0;   // visible (query, key) pairs
  int64_t diagonal = 0;  // visible pairs with query == key
  // FLOP-counting pairs: visible pairs, diagonal pairs counted half when causal (FlashAttention's convention, which
  // makes a square causal block exactly half a full one; core's AttendBlock::EffectivePairs).
  double EffectivePairs(bool causal) const { return double(visible) - (causal ? 0.5 * double(diagonal) : 0.0); }
};

class Mask {
 public:
  Mask(bool causal, MaskShape shape);

  bool causal() const { return causal_; }
  const MaskShape& shape() const { return shape_; }
  bool IsPlain() const { return shape_.IsPlain(); }

  // Key k − query q must lie in [LowestOffset(), HighestOffset()] (window and causality; documents aside).
  int64_t LowestOffset() const;
  int64_t HighestOffset() const;
  // Index of the document holding global token t (0 without documents), and its [start, end).
  int64_t DocumentOf(int64_t t) const;
  int64_t DocumentStart(int64_t doc) const;
  int64_t DocumentEnd(int64_t doc) const;  // needs the sequence end; without documents: INT64_MAX

  bool Visible(int64_t q, int64_t k) const;
  // The block of queries [q_begin, q_end) × keys [k_begin, k_end), in global tokens.
  BlockVisibility Classify(int64_t q_begin, int64_t q_end, int64_t k_begin, int64_t k_end) const;

 private:
  bool causal_;
  MaskShape shape_;
};

// Pairs (i, j) with i in [q0, q1), j in [k0, k1) and lo <= j − i <= hi (closed form, no loop over rows).
int64_t BandPairs(int64_t q0, int64_t q1, int64_t k0, int64_t k1, int64_t lo, int64_t hi);

// Checks the shape against a sequence of `seq` tokens: window extents >= −1, documents 0 = s_0 < ... < s_n = seq.
// The message names the field and the allowed values.
Status ValidateMaskShape(const MaskShape& shape, int64_t seq);

// "causal", "full+window:4096,0", "causal+docs:lognormal:seed=1(37 documents)".
std::string DescribeMask(bool causal, const MaskShape& shape);

}  // namespace ringlab
