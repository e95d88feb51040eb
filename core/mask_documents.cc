#include "core/mask_documents.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <sstream>

namespace ringlab {
namespace {

// Uniform in [0, 1) from the top 53 bits (the same on every platform, unlike std::uniform_real_distribution).
double Uniform01(std::mt19937_64& g) { return double(g() >> 11) * 0x1.0p-53; }

// Standard normal by Box–Muller.
double Normal(std::mt19937_64& g) {
  const double u1 = 1.0 - Uniform01(g), u2 = Uniform01(g);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

int64_t LogNormal(std::mt19937_64& g, double median, double sigma, int64_t minimum) {
  return std::max<int64_t>(minimum, int64_t(std::llround(median * std::exp(sigma * Normal(g)))));
}

Status TooManyDocuments(int64_t seq) {
  return Status::InvalidArgument("more than " + std::to_string(kMaxDocuments) + " documents in seq " +
                                 std::to_string(seq) + " (allowed: longer documents or a smaller --seq)");
}

// Packs documents drawn by `draw` until the sequence is full; the last is cut at seq. More than kMaxDocuments is an
// error (a hostile seq or length 1 would otherwise fill memory document by document).
Status Pack(int64_t seq, const std::function<int64_t()>& draw, std::vector<int64_t>* out) {
  std::vector<int64_t> cu{0};
  while (cu.back() < seq) {
    if (int64_t(cu.size()) > kMaxDocuments) return TooManyDocuments(seq);
    cu.push_back(std::min(seq, cu.back() + std::max<int64_t>(1, draw())));
  }
  *out = std::move(cu);
  return Status::Ok();
}

}  // namespace

std::string_view SyntheticDocumentNames() { return "uniform | lognormal | pretrain-mix | fixed-N"; }

Status SyntheticDocuments(std::string_view name, int64_t seq, uint64_t seed, std::vector<int64_t>* cu) {
  if (seq < 1) return Status::InvalidArgument("documents need seq >= 1 (got " + std::to_string(seq) + ")");
  std::mt19937_64 g(seed);
  if (name == "uniform") {
    return Pack(seq, [&] { return 128 + int64_t(Uniform01(g) * (8192 - 128 + 1)); }, cu);
  } else if (name == "lognormal") {
    return Pack(seq, [&] { return LogNormal(g, 2048, 1.2, 16); }, cu);
  } else if (name == "pretrain-mix") {
    return Pack(seq, [&] {
      const double u = Uniform01(g);
      if (u < 0.6) return LogNormal(g, 300, 1.0, 16);
      if (u < 0.9) return LogNormal(g, 4000, 0.8, 16);
      return LogNormal(g, 40000, 1.0, 16);
    }, cu);
  } else if (name.substr(0, 6) == "fixed-") {
    int64_t n = 0;
    const std::string_view digits = name.substr(6);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || n < 1)
      return Status::InvalidArgument("document distribution fixed-N needs a length N >= 1 (got '" +
                                     std::string(name) + "')");
    if ((seq + n - 1) / n > kMaxDocuments) return TooManyDocuments(seq);  // known without drawing them
    return Pack(seq, [&] { return n; }, cu);
  } else {
    return Status::InvalidArgument("document distribution '" + std::string(name) +
                                   "' is unknown (allowed: " + std::string(SyntheticDocumentNames()) + ")");
  }
}

Status ParseLengthHistogram(std::string_view text, LengthHistogram* out) {
  *out = {};
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    int64_t length = 0;
    double weight = 0;
    if (!(fields >> length)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      return Status::InvalidArgument("document histogram line " + std::to_string(number) +
                                     ": expected 'length weight' (a length >= 1 and a weight > 0)");
    }
    std::string rest;
    if (!(fields >> weight) || (fields >> rest) || length < 1 || !(weight > 0) || !std::isfinite(weight))
      return Status::InvalidArgument("document histogram line " + std::to_string(number) +
                                     ": expected 'length weight' (a length >= 1 and a weight > 0)");
    out->lengths.push_back(length);
    out->weights.push_back(weight);
  }
  if (out->lengths.empty()) return Status::InvalidArgument("document histogram has no 'length weight' lines");
  return Status::Ok();
}

Status ParseCuSeqlens(std::string_view text, std::vector<int64_t>* cu) {
  cu->clear();
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    for (char& c : line)
      if (c == ',') c = ' ';
    std::istringstream fields(line);
    std::string word;
    while (fields >> word) {
      int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
      if (ec != std::errc() || ptr != word.data() + word.size() || v < 0)
        return Status::InvalidArgument("cu_seqlens line " + std::to_string(number) + ": '" + word +
                                       "' is not a token offset (an integer >= 0)");
      if (int64_t(cu->size()) > kMaxDocuments)
        return Status::InvalidArgument("cu_seqlens: more than " + std::to_string(kMaxDocuments) + " documents");
      cu->push_back(v);
    }
  }
  if (cu->size() < 2) return Status::InvalidArgument("cu_seqlens needs at least two offsets (0 and the sequence end)");
  return Status::Ok();
}

Status DocumentsFromHistogram(const LengthHistogram& h, int64_t seq, uint64_t seed, std::vector<int64_t>* cu) {
  if (h.lengths.empty() || h.lengths.size() != h.weights.size())
    return Status::InvalidArgument("document histogram has no 'length weight' lines");
  std::vector<double> cumulative(h.weights.size());
  std::partial_sum(h.weights.begin(), h.weights.end(), cumulative.begin());
  std::mt19937_64 g(seed);
  return Pack(seq, [&] {
    const double u = Uniform01(g) * cumulative.back();
    const size_t i = std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
    return h.lengths[std::min(i, h.lengths.size() - 1)];
  }, cu);
}

}  // namespace ringlab
