// The textual mask description of the CLI and of studies: terms joined by '+'.
//
//   causal | full                 the base mask (at most one; absent: the caller's default)
//   window:L,R                    sliding window, keys in [q − L, q + R]; -1 for an unlimited side
//   docs:FILE                     packed documents drawn from a "length weight" histogram file (mask_documents.h)
//   docs-synthetic:NAME[:SEED]    packed documents from a named distribution (uniform | lognormal | pretrain-mix |
//                                 fixed-N), seed 1 by default
//   cu-seqlens:FILE               packed documents at exact boundaries: the cu_seqlens 0 = s_0 < ... < s_n = seq
//                                 (ParseCuSeqlens: spaces, commas or newlines between them)
//   A FILE is a regular file or a fifo (a shell's <(...)) of at most 256 MiB; a directory, a device or a larger file
//   is refused naming --mask and the file.
//
//   ParsedMask m;
//   Status st = ParseMaskSpec("docs-synthetic:lognormal+causal+window:4096,0", /*seq=*/1 << 20, &m);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/mask.h"
#include "core/problem.h"
#include "core/status.h"

namespace ringlab {

struct ParsedMask {
  std::optional<bool> causal;  // set when the text names causal or full
  MaskShape shape;
};

// Documents need the sequence length (cu_seqlens end at seq). Messages name `--mask` and the allowed terms.
Status ParseMaskSpec(std::string_view text, int64_t seq, ParsedMask* out);
// The files `text`'s docs:FILE and cu-seqlens:FILE terms name (read by ParseMaskSpec), without reading them: for
// checking that no output of a run is one of its inputs.
std::vector<std::string> MaskSpecFiles(std::string_view text);
// Parses `text` for problem->seq and sets problem->mask (and problem->causal where the text names causal or full).
Status ApplyMaskSpec(std::string_view text, Problem* problem);

}  // namespace ringlab
