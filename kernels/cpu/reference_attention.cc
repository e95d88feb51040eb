#include "kernels/cpu/reference_attention.h"

#include <vector>

#include "kernels/cpu/block_attention.h"

namespace ringlab::cpu {

double AttentionShape::EffectiveScale() const { return scale != 0.0 ? scale : 1.0 / std::sqrt(double(head_dim)); }

void ReferenceForward(const AttentionShape& s, const MaskSpec& mask, const double* q, const double* k,
                      const double* v, double* out, double* lse) {
  BlockForward<double>(s, mask, q, k, v, out, lse);
}

void ReferenceBackward(const AttentionShape& s, const MaskSpec& mask, const double* q, const double* k,
                       const double* v, const double* out, const double* lse, const double* dout, double* dq,
                       double* dk, double* dv) {
  std::vector<double> delta(s.LseElements());
  RowDot<double>(s.LseElements(), s.head_dim, dout, out, delta.data());
  std::fill(dq, dq + s.QElements(), 0.0);
  BlockBackward<double>(s, mask, q, k, v, dout, lse, delta.data(), dq, dk, dv);
}

}  // namespace ringlab::cpu
