#include "core/problem.h"

#include <cstdio>
#include <sstream>

namespace ringlab {

std::string_view DTypeName(DType d) {
  switch (d) {
    case DType::kBFloat16: return "bf16";
    case DType::kFloat16: return "fp16";
    case DType::kFloat32: return "fp32";
    case DType::kFloat64: return "fp64";
  }
  return "?";
}

std::optional<DType> ParseDType(std::string_view name) {
  if (name == "bf16" || name == "bfloat16") return DType::kBFloat16;
  if (name == "fp16" || name == "float16" || name == "half") return DType::kFloat16;
  if (name == "fp32" || name == "float32" || name == "float") return DType::kFloat32;
  if (name == "fp64" || name == "float64" || name == "double") return DType::kFloat64;
  return std::nullopt;
}

int DTypeBytes(DType d) {
  switch (d) {
    case DType::kBFloat16:
    case DType::kFloat16: return 2;
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
  }
  return 0;
}

double Problem::ForwardFlops() const {
  const double per_pair = 4.0 * batch * heads * head_dim;
  if (!mask.IsPlain()) return per_pair * AttentionMask().Classify(0, seq, 0, seq).EffectivePairs(causal);
  const double f = per_pair * double(seq) * double(seq);
  return causal ? f / 2 : f;
}

int64_t Problem::KvBytes(int64_t tokens) const {
  return 2 * int64_t(batch) * kv_heads * tokens * head_dim * DTypeBytes(dtype);
}

int64_t Problem::QBytes(int64_t tokens) const { return int64_t(batch) * heads * tokens * head_dim * DTypeBytes(dtype); }

Problem DefaultProblem() { return Problem{}; }

Status CheckSeqBound(int64_t seq) {
  if (seq <= kMaxSeq) return Status::Ok();
  return Status::InvalidArgument("seq must be at most " + std::to_string(kMaxSeq) +
                                 " (seq², the token pairs, must fit int64; got " + std::to_string(seq) + ")");
}

Status ValidateProblem(const Problem& p) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument(m); };
  if (p.batch < 1) return bad("batch must be >= 1 (got " + std::to_string(p.batch) + ")");
  if (p.heads < 1) return bad("heads must be >= 1 (got " + std::to_string(p.heads) + ")");
  if (p.kv_heads < 1) return bad("kv-heads must be >= 1 (got " + std::to_string(p.kv_heads) + ")");
  if (p.kv_heads > p.heads || p.heads % p.kv_heads != 0)
    return bad("kv-heads must divide heads (got heads=" + std::to_string(p.heads) +
               ", kv-heads=" + std::to_string(p.kv_heads) + "; allowed: divisors of " + std::to_string(p.heads) + ")");
  if (p.seq < 1) return bad("seq must be >= 1 (got " + std::to_string(p.seq) + ")");
  if (p.head_dim < 1 || p.head_dim > 512)
    return bad("dim (head dim) must be in 1..512 (got " + std::to_string(p.head_dim) + ")");
  // Token pairs (seq², what a block's visible count can reach) and element counts are int64 everywhere.
  RINGLAB_RETURN_IF_ERROR(CheckSeqBound(p.seq));
  const double elements = double(p.batch) * double(p.heads) * double(p.seq) * double(p.head_dim);
  if (elements > double(kMaxElements)) {
    char got[32];
    snprintf(got, sizeof got, "%.3g", elements);
    return bad("batch x heads x seq x dim must be at most 2^56 (the bytes of Q, K, V and their float accumulators "
               "must fit int64; got " + std::string(got) + ")");
  }
  return ValidateMaskShape(p.mask, p.seq);
}

std::string Describe(const Problem& p) {
  std::ostringstream s;
  s << "B=" << p.batch << " H=" << p.heads << " Hkv=" << p.kv_heads << " S=" << p.seq << " D=" << p.head_dim << " "
    << DTypeName(p.dtype) << " " << DescribeMask(p.causal, p.mask);
  return s.str();
}

}  // namespace ringlab
