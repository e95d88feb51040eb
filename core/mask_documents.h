// Document-length distributions for packed-document masks: named synthetic ones and histogram files, turned into
// the cu_seqlens of one packed sequence. Studies (balancing, the notebook) and tests draw documents from here.
//
// Named distributions (lengths in tokens, deterministic for a seed on every platform: the generator is
// std::mt19937_64 with hand-written uniform/normal draws, since std's distributions differ between libraries):
//   uniform       lengths uniform in [128, 8192]
//   lognormal     median 2048, sigma 1.2, at least 16 tokens
//   pretrain-mix  a long-tail pretraining mix: 60% short (median 300), 30% medium (median 4000), 10% long
//                 (median 40000) documents
//   fixed-N       every document N tokens (tests)
// A histogram file has one "length weight" pair per line ('#' starts a comment); lengths are drawn by weight.
// The last document is cut at the sequence end.
//
//   std::vector<int64_t> cu;
//   Status st = SyntheticDocuments("lognormal", /*seq=*/1 << 20, /*seed=*/1, &cu);  // cu = {0, ..., 1048576}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ringlab {

// The most documents a sequence may hold (cu_seqlens of 256 MiB); more is InvalidArgument.
inline constexpr int64_t kMaxDocuments = int64_t(1) << 25;

// The names SyntheticDocuments accepts, for messages: "uniform | lognormal | pretrain-mix | fixed-N".
std::string_view SyntheticDocumentNames();

Status SyntheticDocuments(std::string_view name, int64_t seq, uint64_t seed, std::vector<int64_t>* cu_seqlens);

// A (length, weight) histogram; lengths >= 1, weights > 0.
struct LengthHistogram {
  std::vector<int64_t> lengths;
  std::vector<double> weights;
};
Status ParseLengthHistogram(std::string_view text, LengthHistogram* out);

// Exact document boundaries as text: the cu_seqlens integers 0 = s_0 < s_1 < ... < s_n (one packed sequence),
// separated by spaces, commas or newlines; '#' starts a comment. Checks that each is an integer and that there are at
// most kMaxDocuments + 1; the caller checks the order and the end (ValidateMaskShape: s_n = seq).
Status ParseCuSeqlens(std::string_view text, std::vector<int64_t>* cu_seqlens);
Status DocumentsFromHistogram(const LengthHistogram& h, int64_t seq, uint64_t seed, std::vector<int64_t>* cu_seqlens);

}  // namespace ringlab
