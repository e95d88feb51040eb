// Block attention on the CPU in any floating type (float for the float32 executor, double for the reference).
// Contiguous tensors, layout and mask as in reference_attention.h. Header-only templates so the float32 and float64
// executors and the reference share one implementation.
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <limits>

#include "kernels/cpu/reference_attention.h"

namespace ringlab::cpu {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Calls fn(query head index, kv head index) over batch × heads, in the flat [batch][heads] numbering.
template <typename Fn>
void ForEachHead(const AttentionShape& s, Fn fn) {
  const int group = s.heads / s.kv_heads;
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.heads; ++h) fn(int64_t(b) * s.heads + h, int64_t(b) * s.kv_heads + h / group);
}

// Masked, scaled scores scale·Q·Kᵀ with −inf where the mask forbids.
template <typename T>
RowMatrix<T> MaskedScores(const AttentionShape& s, const MaskSpec& mask, const T* q, const T* k) {
  using CMap = Eigen::Map<const RowMatrix<T>>;
  CMap qm(q, s.q_tokens, s.head_dim), km(k, s.kv_tokens, s.head_dim);
  RowMatrix<T> scores = (qm * km.transpose()) * T(s.EffectiveScale());
  if (mask.general) {
    for (int64_t i = 0; i < s.q_tokens; ++i)
      for (int64_t j = 0; j < s.kv_tokens; ++j)
        if (!mask.general->Visible(mask.q_global + i, mask.kv_global + j))
          scores(i, j) = -std::numeric_limits<T>::infinity();
  } else if (mask.causal)
    for (int64_t i = 0; i < s.q_tokens; ++i)
      for (int64_t j = std::max<int64_t>(0, i + mask.diagonal_offset + 1); j < s.kv_tokens; ++j)
        scores(i, j) = -std::numeric_limits<T>::infinity();
  return scores;
}

// out, lse of one block; a row that sees no key gets out = 0, lse = −inf.
template <typename T>
void BlockForward(const AttentionShape& s, const MaskSpec& mask, const T* q, const T* k, const T* v, T* out, T* lse) {
  const int64_t nq = s.q_tokens, nk = s.kv_tokens, d = s.head_dim;
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  ForEachHead(s, [&](int64_t qh, int64_t kh) {
    RowMatrix<T> p = MaskedScores(s, mask, q + qh * nq * d, k + kh * nk * d);
    for (int64_t i = 0; i < nq; ++i) {
      const T m = nk > 0 ? p.row(i).maxCoeff() : kNegInf;
      if (m == kNegInf) {
        p.row(i).setZero();
        lse[qh * nq + i] = kNegInf;
        continue;
      }
      T sum = 0;
      for (int64_t j = 0; j < nk; ++j) sum += (p(i, j) = std::exp(p(i, j) - m));
      p.row(i) /= sum;
      lse[qh * nq + i] = m + std::log(sum);
    }
    Eigen::Map<RowMatrix<T>>(out + qh * nq * d, nq, d).noalias() =
        p * Eigen::Map<const RowMatrix<T>>(v + kh * nk * d, nk, d);
  });
}

// Gradients of one block given the final lse and delta = rowsum(dOut ∘ Out): dq += ; dk, dv := (this block only).
template <typename T>
void BlockBackward(const AttentionShape& s, const MaskSpec& mask, const T* q, const T* k, const T* v, const T* dout,
                   const T* lse, const T* delta, T* dq, T* dk, T* dv) {
  using CMap = Eigen::Map<const RowMatrix<T>>;
  using Map = Eigen::Map<RowMatrix<T>>;
  const int64_t nq = s.q_tokens, nk = s.kv_tokens, d = s.head_dim;
  const T scale = T(s.EffectiveScale());
  std::fill(dk, dk + s.KvElements(), T(0));
  std::fill(dv, dv + s.KvElements(), T(0));
  ForEachHead(s, [&](int64_t qh, int64_t kh) {
    CMap qm(q + qh * nq * d, nq, d), km(k + kh * nk * d, nk, d), vm(v + kh * nk * d, nk, d);
    CMap dom(dout + qh * nq * d, nq, d);
    RowMatrix<T> p = MaskedScores(s, mask, q + qh * nq * d, k + kh * nk * d);
    for (int64_t i = 0; i < nq; ++i) {
      const T l = lse[qh * nq + i];
      for (int64_t j = 0; j < nk; ++j) p(i, j) = std::isinf(l) ? T(0) : std::exp(p(i, j) - l);
    }
    const Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> dl(delta + qh * nq, nq);
    RowMatrix<T> ds = p.array() * ((dom * vm.transpose()).colwise() - dl).array();
    Map(dv + kh * nk * d, nk, d).noalias() += p.transpose() * dom;
    Map(dq + qh * nq * d, nq, d).noalias() += ds * km * scale;
    Map(dk + kh * nk * d, nk, d).noalias() += ds.transpose() * qm * scale;
  });
}

// delta[row] = sum over head_dim of dout ∘ out, for `rows` rows.
template <typename T>
void RowDot(int64_t rows, int dim, const T* dout, const T* out, T* delta) {
  for (int64_t i = 0; i < rows; ++i) {
    T acc = 0;
    for (int c = 0; c < dim; ++c) acc += dout[i * dim + c] * out[i * dim + c];
    delta[i] = acc;
  }
}

// Log-sum-exp merge of (out_b, lse_b) into (out_a, lse_a), `rows` rows of `dim`.
template <typename T>
void MergeRows(int64_t rows, int dim, const T* out_b, const T* lse_b, T* out_a, T* lse_a) {
  for (int64_t i = 0; i < rows; ++i) {
    const T la = lse_a[i], lb = lse_b[i];
    if (std::isinf(lb) && lb < 0) continue;
    const T m = std::max(la, lb);
    const T l = m + std::log(std::exp(la - m) + std::exp(lb - m));
    const T wa = std::exp(la - l), wb = std::exp(lb - l);
    for (int c = 0; c < dim; ++c) out_a[i * dim + c] = out_a[i * dim + c] * wa + out_b[i * dim + c] * wb;
    lse_a[i] = l;
  }
}

}  // namespace ringlab::cpu
