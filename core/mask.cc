#include "core/mask.h"

#include <algorithm>
#include <limits>

namespace ringlab {
namespace {

constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max() / 4;

// Sum over rows i in [q0, q1) of clamp(i + c, 0, n): the keys of [0, n) that row i sees when it sees keys j <= i + c
// − 1 (shifted so the key range starts at 0).
int64_t SumClamped(int64_t q0, int64_t q1, int64_t c, int64_t n) {
  int64_t total = 0;
  const int64_t a = std::max(q0, 1 - c), b = std::min(q1, n - c);  // rows on the slope: 0 < i + c < n
  if (b > a) total += ((a + c) + (b - 1 + c)) * (b - a) / 2;
  const int64_t full_from = std::max(q0, n - c);  // rows that see every key
  if (q1 > full_from) total += (q1 - full_from) * n;
  return total;
}

// Pairs with j − i <= x.
int64_t PairsAtMost(int64_t q0, int64_t q1, int64_t k0, int64_t k1, int64_t x) {
  return SumClamped(q0, q1, x - k0 + 1, k1 - k0);
}

}  // namespace

std::string_view BlockKindName(BlockKind k) {
  switch (k) {
    case BlockKind::kEmpty: return "empty";
    case BlockKind::kFull: return "full";
    case BlockKind::kPartial: return "partial";
  }
  return "?";
}

int64_t BandPairs(int64_t q0, int64_t q1, int64_t k0, int64_t k1, int64_t lo, int64_t hi) {
  if (q1 <= q0 || k1 <= k0) return 0;
  lo = std::max(lo, k0 - (q1 - 1));  // the lowest j − i the block holds; keeps the arithmetic in range
  hi = std::min(hi, (k1 - 1) - q0);
  if (hi < lo) return 0;
  return PairsAtMost(q0, q1, k0, k1, hi) - PairsAtMost(q0, q1, k0, k1, lo - 1);
}

Mask::Mask(bool causal, MaskShape shape) : causal_(causal), shape_(std::move(shape)) {}

int64_t Mask::LowestOffset() const { return shape_.window_left >= 0 ? -shape_.window_left : -kUnbounded; }

int64_t Mask::HighestOffset() const {
  int64_t hi = shape_.window_right >= 0 ? shape_.window_right : kUnbounded;
  return causal_ ? std::min<int64_t>(hi, 0) : hi;
}

int64_t Mask::DocumentOf(int64_t t) const {
  if (!shape_.documents) return 0;
  const std::vector<int64_t>& d = *shape_.documents;
  return int64_t(std::upper_bound(d.begin(), d.end() - 1, t) - d.begin()) - 1;
}

int64_t Mask::DocumentStart(int64_t doc) const { return shape_.documents ? (*shape_.documents)[doc] : 0; }

int64_t Mask::DocumentEnd(int64_t doc) const { return shape_.documents ? (*shape_.documents)[doc + 1] : kUnbounded; }

bool Mask::Visible(int64_t q, int64_t k) const {
  const int64_t d = k - q;
  return d >= LowestOffset() && d <= HighestOffset() && DocumentOf(q) == DocumentOf(k);
}

BlockVisibility Mask::Classify(int64_t q0, int64_t q1, int64_t k0, int64_t k1) const {
  BlockVisibility v;
  if (q1 <= q0 || k1 <= k0) return v;
  const int64_t lo = LowestOffset(), hi = HighestOffset();
  const bool diagonal_allowed = lo <= 0 && hi >= 0;
  auto add = [&](int64_t qa, int64_t qb, int64_t ka, int64_t kb) {
    v.visible += BandPairs(qa, qb, ka, kb, lo, hi);
    if (diagonal_allowed) v.diagonal += BandPairs(qa, qb, ka, kb, 0, 0);
  };
  if (!shape_.documents) {
    add(q0, q1, k0, k1);
  } else {
    // Documents that overlap both ranges are consecutive: from the one holding max(q0, k0) to the one holding
    // min(q1, k1) − 1 (for disjoint ranges that is one document spanning the gap, or none).
    const int64_t first = DocumentOf(std::max(q0, k0)), last = DocumentOf(std::min(q1, k1) - 1);
    for (int64_t doc = first; doc <= last; ++doc) {
      const int64_t s = DocumentStart(doc), e = DocumentEnd(doc);
      add(std::max(q0, s), std::min(q1, e), std::max(k0, s), std::min(k1, e));
    }
  }
  v.kind = v.visible == 0 ? BlockKind::kEmpty
           : v.visible == (q1 - q0) * (k1 - k0) ? BlockKind::kFull
                                                : BlockKind::kPartial;
  return v;
}

Status ValidateMaskShape(const MaskShape& shape, int64_t seq) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument(m); };
  if (shape.window_left < -1)
    return bad("mask window left extent must be >= 0 (or -1 for unlimited), got " + std::to_string(shape.window_left));
  if (shape.window_right < -1)
    return bad("mask window right extent must be >= 0 (or -1 for unlimited), got " +
               std::to_string(shape.window_right));
  if (!shape.documents) return Status::Ok();
  const std::vector<int64_t>& d = *shape.documents;
  if (d.size() < 2 || d.front() != 0 || d.back() != seq)
    return bad("mask documents (cu_seqlens) must start at 0 and end at seq=" + std::to_string(seq) + " (got " +
               std::to_string(d.size() < 1 ? 0 : d.back()) + " at the end, " + std::to_string(d.size()) + " entries)");
  for (size_t i = 1; i < d.size(); ++i)
    if (d[i] <= d[i - 1])
      return bad("mask documents (cu_seqlens) must increase strictly; entry " + std::to_string(i) + " is " +
                 std::to_string(d[i]) + " after " + std::to_string(d[i - 1]));
  return Status::Ok();
}

std::string DescribeMask(bool causal, const MaskShape& shape) {
  std::string s = causal ? "causal" : "full";
  if (shape.HasWindow())
    s += "+window:" + std::to_string(shape.window_left) + "," + std::to_string(shape.window_right);
  if (shape.HasDocuments())
    s += "+docs:" + (shape.documents_name.empty() ? std::string("given") : shape.documents_name) + "(" +
         std::to_string(shape.DocumentCount()) + " documents)";
  return s;
}

}  // namespace ringlab
