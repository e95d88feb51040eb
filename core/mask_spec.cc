#include "core/mask_spec.h"

#include <charconv>
#include <string>

#include "core/input_file.h"
#include "core/mask_documents.h"

namespace ringlab {
namespace {

constexpr std::string_view kAllowed =
    "allowed terms joined by '+': causal | full | window:L,R | docs:FILE | docs-synthetic:NAME[:SEED] | "
    "cu-seqlens:FILE";

Status Bad(const std::string& what) {
  return Status::InvalidArgument("--mask: " + what + " (" + std::string(kAllowed) + ")");
}

bool ParseInt(std::string_view s, int64_t* v) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

Status ParseWindow(std::string_view arg, MaskShape* shape) {
  const size_t comma = arg.find(',');
  int64_t l = 0, r = 0;
  if (comma == std::string_view::npos || !ParseInt(arg.substr(0, comma), &l) || !ParseInt(arg.substr(comma + 1), &r) ||
      l < -1 || r < -1)
    return Bad("window needs two extents L,R, each >= 0 or -1 for unlimited (got 'window:" + std::string(arg) + "')");
  shape->window_left = l;
  shape->window_right = r;
  return Status::Ok();
}

// The whole text of a file a mask term names (core/input_file.h: a regular file or a fifo, bounded); `what` says which
// kind of file in the message.
Status ReadTermFile(const std::string& path, const char* what, std::string* text) {
  if (Status st = ReadInputFile(path, kMaxInputFileBytes, text); !st.ok())
    return Status::InvalidArgument("--mask: " + std::string(what) + " file '" + path + "' " + st.message());
  return Status::Ok();
}

Status ReadDocumentsFile(const std::string& path, int64_t seq, MaskShape* shape) {
  std::string text;
  RINGLAB_RETURN_IF_ERROR(ReadTermFile(path, "document histogram", &text));
  LengthHistogram h;
  Status st = ParseLengthHistogram(text, &h);
  if (!st.ok()) return Status::InvalidArgument("--mask docs:" + path + ": " + st.message());
  std::vector<int64_t> cu;
  st = DocumentsFromHistogram(h, seq, /*seed=*/1, &cu);
  if (!st.ok()) return Status::InvalidArgument("--mask docs:" + path + ": " + st.message());
  shape->documents = std::make_shared<const std::vector<int64_t>>(std::move(cu));
  shape->documents_name = "file:" + path;
  return Status::Ok();
}

// Exact boundaries (cu_seqlens) from a file: a measured batch, or the documents a benchmark ran.
Status ReadCuSeqlensFile(const std::string& path, MaskShape* shape) {
  std::string text;
  RINGLAB_RETURN_IF_ERROR(ReadTermFile(path, "cu_seqlens", &text));
  std::vector<int64_t> cu;
  if (Status st = ParseCuSeqlens(text, &cu); !st.ok())
    return Status::InvalidArgument("--mask cu-seqlens:" + path + ": " + st.message());
  shape->documents = std::make_shared<const std::vector<int64_t>>(std::move(cu));
  shape->documents_name = "cu-seqlens:" + path;
  return Status::Ok();
}

Status SyntheticTerm(std::string_view arg, int64_t seq, MaskShape* shape) {
  std::string_view name = arg;
  int64_t seed = 1;
  if (const size_t colon = arg.find(':'); colon != std::string_view::npos) {
    name = arg.substr(0, colon);
    if (!ParseInt(arg.substr(colon + 1), &seed) || seed < 0)
      return Bad("docs-synthetic seed must be an integer >= 0 (got '" + std::string(arg.substr(colon + 1)) + "')");
  }
  std::vector<int64_t> cu;
  Status st = SyntheticDocuments(name, seq, uint64_t(seed), &cu);
  if (!st.ok()) return Status::InvalidArgument("--mask: " + st.message());
  shape->documents = std::make_shared<const std::vector<int64_t>>(std::move(cu));
  shape->documents_name = std::string(name) + ":seed=" + std::to_string(seed);
  return Status::Ok();
}

}  // namespace

Status ParseMaskSpec(std::string_view text, int64_t seq, ParsedMask* out) {
  *out = {};
  if (text.empty()) return Bad("empty mask");
  // Before any documents are drawn for it (ValidateProblem checks seq later; documents are drawn one by one).
  if (Status st = CheckSeqBound(seq); !st.ok()) return Status::InvalidArgument("--" + st.message());
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find('+', begin), text.size());
    const std::string_view term = text.substr(begin, end - begin);
    const size_t colon = term.find(':');
    const std::string_view head = term.substr(0, colon);
    const std::string_view arg = colon == std::string_view::npos ? std::string_view() : term.substr(colon + 1);
    if (term == "causal" || term == "full") {
      if (out->causal) return Bad("causal and full given twice");
      out->causal = term == "causal";
    } else if (head == "window" && colon != std::string_view::npos) {
      if (out->shape.HasWindow()) return Bad("window given twice");
      RINGLAB_RETURN_IF_ERROR(ParseWindow(arg, &out->shape));
    } else if ((head == "docs" || head == "docs-synthetic" || head == "cu-seqlens") && !arg.empty()) {
      if (out->shape.HasDocuments()) return Bad("documents given twice");
      RINGLAB_RETURN_IF_ERROR(head == "docs"         ? ReadDocumentsFile(std::string(arg), seq, &out->shape)
                              : head == "cu-seqlens" ? ReadCuSeqlensFile(std::string(arg), &out->shape)
                                                     : SyntheticTerm(arg, seq, &out->shape));
    } else {
      return Bad("unknown term '" + std::string(term) + "'");
    }
    begin = end + 1;
  }
  if (Status st = ValidateMaskShape(out->shape, seq); !st.ok()) return Status::InvalidArgument("--" + st.message());
  return Status::Ok();
}

std::vector<std::string> MaskSpecFiles(std::string_view text) {
  std::vector<std::string> files;
  for (size_t begin = 0; begin <= text.size();) {  // the terms as ParseMaskSpec splits them
    const size_t end = std::min(text.find('+', begin), text.size());
    const std::string_view term = text.substr(begin, end - begin);
    for (std::string_view head : {"docs:", "cu-seqlens:"})
      if (term.starts_with(head) && term.size() > head.size()) files.emplace_back(term.substr(head.size()));
    begin = end + 1;
  }
  return files;
}

Status ApplyMaskSpec(std::string_view text, Problem* problem) {
  ParsedMask parsed;
  RINGLAB_RETURN_IF_ERROR(ParseMaskSpec(text, problem->seq, &parsed));
  if (parsed.causal) problem->causal = *parsed.causal;
  problem->mask = parsed.shape;
  return Status::Ok();
}

}  // namespace ringlab
