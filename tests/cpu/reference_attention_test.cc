// The float64 reference against brute-force formulas and finite differences.
#include "kernels/cpu/reference_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace ringlab::cpu {
namespace {

std::vector<double> Random(size_t n, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(n);
  for (double& x : v) x = u(g);
  return v;
}

TEST(ReferenceAttention, ForwardMatchesTheSoftmaxFormulaWithGqaAndOffset) {
  AttentionShape s{.batch = 1, .heads = 4, .kv_heads = 2, .q_tokens = 5, .kv_tokens = 7, .head_dim = 3};
  MaskSpec m{.causal = true, .diagonal_offset = 1};
  auto q = Random(s.QElements(), 1), k = Random(s.KvElements(), 2), v = Random(s.KvElements(), 3);
  std::vector<double> out(s.QElements()), lse(s.LseElements());
  ReferenceForward(s, m, q.data(), k.data(), v.data(), out.data(), lse.data());
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 5; ++i) {
      const int kh = h / 2;
      double z = 0;
      std::vector<double> o(3, 0);
      for (int j = 0; j <= std::min(6, i + 1); ++j) {
        double dot = 0;
        for (int d = 0; d < 3; ++d) dot += q[(h * 5 + i) * 3 + d] * k[(kh * 7 + j) * 3 + d];
        const double e = std::exp(dot / std::sqrt(3.0));
        z += e;
        for (int d = 0; d < 3; ++d) o[d] += e * v[(kh * 7 + j) * 3 + d];
      }
      EXPECT_NEAR(lse[h * 5 + i], std::log(z), 1e-13);
      for (int d = 0; d < 3; ++d) EXPECT_NEAR(out[(h * 5 + i) * 3 + d], o[d] / z, 1e-13);
    }
}

TEST(ReferenceAttention, RowsThatSeeNothingGiveZeroAndMinusInfinity) {
  AttentionShape s{.q_tokens = 3, .kv_tokens = 3, .head_dim = 2};
  MaskSpec m{.causal = true, .diagonal_offset = -2};  // only row 2 sees key 0
  auto q = Random(6, 4), k = Random(6, 5), v = Random(6, 6);
  std::vector<double> out(6), lse(3);
  ReferenceForward(s, m, q.data(), k.data(), v.data(), out.data(), lse.data());
  EXPECT_EQ(lse[0], -INFINITY);
  EXPECT_EQ(out[0], 0.0);
  EXPECT_TRUE(std::isfinite(lse[2]));
  EXPECT_NEAR(out[4], v[0], 1e-15);
}

TEST(ReferenceAttention, BackwardMatchesFiniteDifferences) {
  AttentionShape s{.batch = 1, .heads = 2, .kv_heads = 1, .q_tokens = 4, .kv_tokens = 4, .head_dim = 3};
  MaskSpec m{.causal = true};
  auto q = Random(s.QElements(), 7), k = Random(s.KvElements(), 8), v = Random(s.KvElements(), 9);
  auto dout = Random(s.QElements(), 10);
  auto loss = [&](const std::vector<double>& qq, const std::vector<double>& kk, const std::vector<double>& vv) {
    std::vector<double> out(s.QElements()), lse(s.LseElements());
    ReferenceForward(s, m, qq.data(), kk.data(), vv.data(), out.data(), lse.data());
    double l = 0;
    for (size_t i = 0; i < out.size(); ++i) l += out[i] * dout[i];
    return l;
  };
  std::vector<double> out(s.QElements()), lse(s.LseElements());
  ReferenceForward(s, m, q.data(), k.data(), v.data(), out.data(), lse.data());
  std::vector<double> dq(q.size()), dk(k.size()), dv(v.size());
  ReferenceBackward(s, m, q.data(), k.data(), v.data(), out.data(), lse.data(), dout.data(), dq.data(), dk.data(),
                    dv.data());
  const double h = 1e-6;
  auto check = [&](std::vector<double>& x, const std::vector<double>& grad, int which) {
    for (size_t i = 0; i < x.size(); ++i) {
      const double keep = x[i];
      x[i] = keep + h;
      const double up = which == 0 ? loss(x, k, v) : which == 1 ? loss(q, x, v) : loss(q, k, x);
      x[i] = keep - h;
      const double down = which == 0 ? loss(x, k, v) : which == 1 ? loss(q, x, v) : loss(q, k, x);
      x[i] = keep;
      EXPECT_NEAR(grad[i], (up - down) / (2 * h), 1e-7) << "tensor " << which << " element " << i;
    }
  };
  check(q, dq, 0);
  check(k, dk, 1);
  check(v, dv, 2);
}

}  // namespace
}  // namespace ringlab::cpu
