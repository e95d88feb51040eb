// core/mask.h and its specs: closed-form pair counts against brute force, block classification, document
// distributions, the --mask text, and the FLOP convention (a plain causal mask through the general path).
#include "core/mask.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "core/mask_documents.h"
#include "core/mask_spec.h"
#include "core/problem.h"

namespace ringlab {
namespace {

MaskShape Docs(std::vector<int64_t> cu, int64_t left = -1, int64_t right = -1) {
  MaskShape s{.window_left = left, .window_right = right};
  s.documents = std::make_shared<const std::vector<int64_t>>(std::move(cu));
  return s;
}

BlockVisibility BruteForce(const Mask& m, int64_t q0, int64_t q1, int64_t k0, int64_t k1) {
  BlockVisibility v;
  for (int64_t q = q0; q < q1; ++q)
    for (int64_t k = k0; k < k1; ++k)
      if (m.Visible(q, k)) {
        ++v.visible;
        if (q == k) ++v.diagonal;
      }
  return v;
}

TEST(BandPairs, MatchesBruteForceOnRandomRectangles) {
  std::mt19937 g(7);
  for (int trial = 0; trial < 2000; ++trial) {
    const int64_t q0 = g() % 40, q1 = q0 + g() % 30, k0 = g() % 40, k1 = k0 + g() % 30;
    const int64_t lo = int64_t(g() % 61) - 30, hi = lo + int64_t(g() % 40) - 5;
    int64_t want = 0;
    for (int64_t i = q0; i < q1; ++i)
      for (int64_t j = k0; j < k1; ++j) want += (j - i >= lo && j - i <= hi);
    ASSERT_EQ(BandPairs(q0, q1, k0, k1, lo, hi), want) << q0 << " " << q1 << " " << k0 << " " << k1 << " " << lo
                                                       << " " << hi;
  }
}

TEST(MaskClassify, MatchesBruteForceForEveryCombination) {
  const std::vector<int64_t> cu{0, 3, 4, 17, 40, 41, 64};  // a 1-token document, documents shorter than a block
  const std::vector<MaskShape> shapes{MaskShape{}, MaskShape{.window_left = 5, .window_right = 0},
                                      MaskShape{.window_left = 3, .window_right = 9}, Docs(cu), Docs(cu, 6, 2),
                                      Docs(cu, 0, 0)};
  for (bool causal : {true, false})
    for (const MaskShape& shape : shapes) {
      const Mask m(causal, shape);
      for (int64_t q0 = 0; q0 < 64; q0 += 8)
        for (int64_t k0 = 0; k0 < 64; k0 += 8)
          for (int64_t len : {8, 16}) {
            const int64_t q1 = std::min<int64_t>(64, q0 + len), k1 = std::min<int64_t>(64, k0 + len);
            const BlockVisibility got = m.Classify(q0, q1, k0, k1), want = BruteForce(m, q0, q1, k0, k1);
            ASSERT_EQ(got.visible, want.visible) << DescribeMask(causal, shape) << " q" << q0 << " k" << k0;
            ASSERT_EQ(got.diagonal, want.diagonal);
            const BlockKind kind = want.visible == 0                        ? BlockKind::kEmpty
                                   : want.visible == (q1 - q0) * (k1 - k0) ? BlockKind::kFull
                                                                           : BlockKind::kPartial;
            ASSERT_EQ(got.kind, kind);
          }
    }
}

TEST(MaskClassify, PlainCausalThroughTheGeneralPathKeepsTheFlopConvention) {
  // A window covering everything is the causal mask: the square counts S²/2 (diagonal half), as AttendBlock does.
  const Mask m(true, MaskShape{.window_left = 1 << 20, .window_right = 1 << 20});
  EXPECT_DOUBLE_EQ(m.Classify(0, 1000, 0, 1000).EffectivePairs(true), 1000.0 * 1000 / 2);
  Problem p{.batch = 1, .heads = 2, .kv_heads = 2, .seq = 1000, .head_dim = 64};
  const double plain = p.ForwardFlops();
  p.mask = MaskShape{.window_left = 1 << 20, .window_right = 0};
  EXPECT_DOUBLE_EQ(p.ForwardFlops(), plain);
  p.mask = MaskShape{.window_left = 99, .window_right = 0};  // each row sees at most 100 keys
  EXPECT_DOUBLE_EQ(p.ForwardFlops(), 4.0 * 2 * 64 * (100.0 * 101 / 2 + 900.0 * 100 - 500.0));
}

TEST(MaskDocuments, SyntheticDistributionsFillTheSequenceDeterministically) {
  for (std::string_view name : {"uniform", "lognormal", "pretrain-mix", "fixed-100"}) {
    std::vector<int64_t> a, b;
    ASSERT_TRUE(SyntheticDocuments(name, 1 << 20, 5, &a).ok());
    ASSERT_TRUE(SyntheticDocuments(name, 1 << 20, 5, &b).ok());
    EXPECT_EQ(a, b) << name;
    EXPECT_EQ(a.front(), 0);
    EXPECT_EQ(a.back(), 1 << 20);
    EXPECT_TRUE(ValidateMaskShape(Docs(a), 1 << 20).ok()) << name;
    EXPECT_GT(a.size(), 20u) << name;
  }
  std::vector<int64_t> cu;
  ASSERT_TRUE(SyntheticDocuments("fixed-100", 250, 1, &cu).ok());
  EXPECT_EQ(cu, (std::vector<int64_t>{0, 100, 200, 250}));
  const Status bad = SyntheticDocuments("zipf", 100, 1, &cu);
  EXPECT_NE(bad.message().find("uniform | lognormal | pretrain-mix | fixed-N"), std::string::npos) << bad.message();
}

TEST(MaskDocuments, HistogramDrawsOnlyItsLengths) {
  LengthHistogram h;
  ASSERT_TRUE(ParseLengthHistogram("# len weight\n16 1\n64 3.5\n\n", &h).ok());
  std::vector<int64_t> cu;
  ASSERT_TRUE(DocumentsFromHistogram(h, 100000, 3, &cu).ok());
  int64_t sixteen = 0, sixty_four = 0;
  for (size_t i = 1; i + 1 < cu.size(); ++i) {
    const int64_t len = cu[i] - cu[i - 1];
    ASSERT_TRUE(len == 16 || len == 64) << len;
    (len == 16 ? sixteen : sixty_four)++;
  }
  EXPECT_NEAR(double(sixty_four) / double(sixteen), 3.5, 0.5);
  EXPECT_FALSE(ParseLengthHistogram("16 1\n0 2\n", &h).ok());
  EXPECT_FALSE(ParseLengthHistogram("16\n", &h).ok());
}

TEST(MaskSpec, ParsesCombinationsAndNamesTheFieldOnErrors) {
  ParsedMask m;
  ASSERT_TRUE(ParseMaskSpec("docs-synthetic:fixed-10:3+causal+window:4,0", 100, &m).ok());
  EXPECT_EQ(m.causal, std::optional<bool>(true));
  EXPECT_EQ(m.shape.window_left, 4);
  EXPECT_EQ(m.shape.window_right, 0);
  EXPECT_EQ(m.shape.DocumentCount(), 10);
  ASSERT_TRUE(ParseMaskSpec("window:-1,16", 100, &m).ok());
  EXPECT_FALSE(m.causal.has_value());
  for (const char* bad : {"", "diagonal", "window:4", "window:a,b", "window:-2,0", "causal+full", "docs:",
                          "docs-synthetic:zipf", "docs:/nonexistent/histogram.txt", "window:1,1+window:2,2"}) {
    const Status st = ParseMaskSpec(bad, 100, &m);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.message().rfind("--mask", 0), 0u) << bad << ": " << st.message();
  }
}

// cu-seqlens:FILE: exact boundaries (a measured batch); every malformed file is one message naming --mask.
TEST(MaskSpec, ReadsExactDocumentBoundaries) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = dir + "/" + name;
    std::ofstream(path) << text;
    return path;
  };
  ParsedMask m;
  const std::string good = write("cu_good.txt", "# one batch\n0, 7 30\n64\n100\n");
  ASSERT_TRUE(ParseMaskSpec("causal+cu-seqlens:" + good, 100, &m).ok());
  ASSERT_TRUE(m.shape.documents);
  EXPECT_EQ(*m.shape.documents, (std::vector<int64_t>{0, 7, 30, 64, 100}));
  EXPECT_EQ(m.shape.DocumentCount(), 4);
  EXPECT_EQ(DescribeMask(true, m.shape).find("cu-seqlens:"), std::string("causal+docs:").size());
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {"cu_end.txt", "0 50 99\n"},        // does not end at seq
           {"cu_start.txt", "1 50 100\n"},     // does not start at 0
           {"cu_order.txt", "0 60 50 100\n"},  // not increasing
           {"cu_equal.txt", "0 50 50 100\n"},  // an empty document
           {"cu_word.txt", "0 fifty 100\n"},   // not a number
           {"cu_neg.txt", "0 -5 100\n"},
           {"cu_one.txt", "100\n"},
           {"cu_empty.txt", "# nothing\n"}}) {
    const Status st = ParseMaskSpec("causal+cu-seqlens:" + write(name, text), 100, &m);
    EXPECT_FALSE(st.ok()) << name;
    EXPECT_EQ(st.message().rfind("--mask", 0), 0u) << name << ": " << st.message();
  }
  const Status missing = ParseMaskSpec("cu-seqlens:" + dir + "/no_such_cu.txt", 100, &m);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("cannot read"), std::string::npos) << missing.message();
  EXPECT_FALSE(ParseMaskSpec("cu-seqlens:" + good + "+docs-synthetic:fixed-10", 100, &m).ok());  // documents twice
}

// A term file is read only when it is a regular file or a fifo, and at most 256 MiB of it: a directory used to read
// as an empty file ("needs at least two offsets"), and /dev/zero was read until memory ran out.
TEST(MaskSpec, ReadsOnlyBoundedRegularFilesAndFifos) {
  const std::string dir = ::testing::TempDir();
  ParsedMask m;
  auto refused = [&](const std::string& spec, const std::string& why) {
    const Status st = ParseMaskSpec(spec, 100, &m);
    EXPECT_FALSE(st.ok()) << spec;
    EXPECT_EQ(st.message().rfind("--mask", 0), 0u) << spec << ": " << st.message();
    EXPECT_NE(st.message().find(why), std::string::npos) << spec << ": " << st.message();
  };
  refused("causal+cu-seqlens:" + dir, "cu_seqlens file '" + dir + "' is a directory");
  refused("causal+docs:" + dir, "is a directory");
  refused("causal+docs:/dev/zero", "'/dev/zero' is not a regular file (allowed: a regular file or a fifo");
  // Larger than the cap: refused by its size, before reading (a sparse file, no disk used).
  const std::string big = dir + "/cu_big.txt";
  {
    std::ofstream(big) << "0 100\n";
  }
  ASSERT_EQ(::truncate(big.c_str(), (int64_t(256) << 20) + 1), 0);
  refused("causal+cu-seqlens:" + big, "is larger than 256 MiB");
  ::unlink(big.c_str());
  // A fifo (a shell's <(...)) is read until its writer closes it.
  const std::string fifo = dir + "/cu_fifo";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(fifo) << "0 40 100\n"; });
  const Status st = ParseMaskSpec("causal+cu-seqlens:" + fifo, 100, &m);
  writer.join();
  ::unlink(fifo.c_str());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(*m.shape.documents, (std::vector<int64_t>{0, 40, 100}));
}

TEST(MaskSpec, RefusesMoreDocumentsThanTheCapBeforeDrawingThemAll) {
  // Documents are drawn one by one: seq 2^62 never finished, length 1 over 3·10^9 tokens filled memory.
  ParsedMask m;
  Status st = ParseMaskSpec("causal+docs-synthetic:lognormal", int64_t(1) << 62, &m);
  EXPECT_NE(st.message().find("--seq must be at most"), std::string::npos) << st.message();
  st = ParseMaskSpec("causal+docs-synthetic:fixed-1", kMaxDocuments + 1, &m);
  EXPECT_NE(st.message().find("more than 33554432 documents"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().rfind("--mask", 0), 0u) << st.message();
  ASSERT_TRUE(ParseMaskSpec("causal+docs-synthetic:fixed-1", 1000, &m).ok());
  EXPECT_EQ(m.shape.DocumentCount(), 1000);
}

TEST(MaskShapeValidation, RejectsBadDocuments) {
  EXPECT_TRUE(ValidateMaskShape(Docs({0, 5, 10}), 10).ok());
  EXPECT_FALSE(ValidateMaskShape(Docs({0, 5, 9}), 10).ok());
  EXPECT_FALSE(ValidateMaskShape(Docs({1, 5, 10}), 10).ok());
  EXPECT_FALSE(ValidateMaskShape(Docs({0, 5, 5, 10}), 10).ok());
  EXPECT_FALSE(ValidateMaskShape(MaskShape{.window_left = -3}, 10).ok());
}

}  // namespace
}  // namespace ringlab
