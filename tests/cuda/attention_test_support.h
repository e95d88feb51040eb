// Helpers shared by the GPU attention kernel tests (attention_kernels_test.cc: forward; attention_backward_test.cc:
// backward): device buffers, random operands rounded to the element type, the relative-error comparison against the
// float64 CPU reference, the test cases' shape description and the fixture that skips without a GPU.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/reference_attention.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"

namespace ringlab::cuda::test_support {

constexpr double kOutTol = 1e-2;   // bf16 / fp16 operands, float32 accumulation
constexpr double kGradTol = 2e-2;

inline bool HaveGpu(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    *why = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err);
    return false;
  }
  if (n == 0) {
    *why = "no CUDA device present";
    return false;
  }
  return true;
}

class AttentionKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!HaveGpu(&why)) GTEST_SKIP() << "needs a CUDA GPU: " << why;
    seed_ = std::random_device{}();
    rng_.seed(seed_);
    std::printf("[ seed     ] %u\n", seed_);
  }

  unsigned seed_ = 0;
  std::mt19937_64 rng_;
};

inline bool DeviceIsCc90() {
  int device = 0, major = 0, minor = 0;
  RINGLAB_CUDA_CHECK(cudaGetDevice(&device));
  RINGLAB_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  RINGLAB_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return major == 9 && minor == 0;
}

// A device buffer of T with host mirror helpers.
template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { RINGLAB_CUDA_CHECK(cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T))); }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void Upload(const std::vector<T>& h) { RINGLAB_CUDA_CHECK(cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice)); }
  std::vector<T> Download() const {
    std::vector<T> h(n);
    RINGLAB_CUDA_CHECK(cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  void Poison() { RINGLAB_CUDA_CHECK(cudaMemset(ptr, 0xFF, n * sizeof(T))); }  // all-ones bits: NaN as float
  void Zero() { RINGLAB_CUDA_CHECK(cudaMemset(ptr, 0, n * sizeof(T))); }
};

// Random values rounded to the element type: the 16-bit words for the GPU and their exact values for the reference.
struct Operand {
  std::vector<uint16_t> bits;
  std::vector<double> values;
};

inline Operand RandomOperand(size_t n, ElementType et, std::mt19937_64& rng, double scale = 1.0) {
  std::normal_distribution<float> dist(0.f, 1.f);
  Operand op;
  op.bits.resize(n);
  op.values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float x = dist(rng) * static_cast<float>(scale);
    if (et == ElementType::kBFloat16) {
      const __nv_bfloat16 b = __float2bfloat16_rn(x);
      op.bits[i] = *reinterpret_cast<const uint16_t*>(&b);
      op.values[i] = __bfloat162float(b);
    } else {
      const __half hv = __float2half_rn(x);
      op.bits[i] = *reinterpret_cast<const uint16_t*>(&hv);
      op.values[i] = __half2float(hv);
    }
  }
  return op;
}

// ||x - ref|| / ||ref|| over the entries where ref is finite; counts NaN in x and mismatched infinities as failures.
struct Compare {
  double rel = 0.0;
  int64_t not_written = 0;  // NaN (poison survived) or an infinity where the reference is finite, or vice versa
};

inline Compare RelError(const std::vector<float>& x, const std::vector<double>& ref) {
  Compare c;
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      ++c.not_written;
      continue;
    }
    if (!std::isfinite(ref[i]) || !std::isfinite(x[i])) {
      if (static_cast<double>(x[i]) != ref[i]) ++c.not_written;
      continue;
    }
    const double d = x[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  c.rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return c;
}

struct Case {
  const char* name;
  int batch, heads, kv_heads;
  int64_t q_tokens, kv_tokens;
  int head_dim;
  bool causal;
  int64_t offset;
  ElementType element;
};

inline std::string Describe(const Case& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: B=%d H=%d KVH=%d Sq=%lld Skv=%lld D=%d %s off=%lld %s", c.name, c.batch, c.heads,
                c.kv_heads, static_cast<long long>(c.q_tokens), static_cast<long long>(c.kv_tokens), c.head_dim,
                c.causal ? "causal" : "full", static_cast<long long>(c.offset),
                c.element == ElementType::kBFloat16 ? "bf16" : "fp16");
  return buf;
}

struct Inputs {
  cpu::AttentionShape shape;
  cpu::MaskSpec mask;
  Operand q, k, v, dout;
};

inline Inputs MakeInputs(const Case& c, std::mt19937_64& rng) {
  Inputs in;
  in.shape = cpu::AttentionShape{.batch = c.batch, .heads = c.heads, .kv_heads = c.kv_heads, .q_tokens = c.q_tokens,
                                 .kv_tokens = c.kv_tokens, .head_dim = c.head_dim};
  in.mask = cpu::MaskSpec{.causal = c.causal, .diagonal_offset = c.offset};
  in.q = RandomOperand(in.shape.QElements(), c.element, rng);
  in.k = RandomOperand(in.shape.KvElements(), c.element, rng);
  in.v = RandomOperand(in.shape.KvElements(), c.element, rng);
  in.dout = RandomOperand(in.shape.QElements(), c.element, rng);
  return in;
}

// The float64 reference forward of `in`: (out, lse).
inline std::pair<std::vector<double>, std::vector<double>> ReferenceForwardOf(const Inputs& in) {
  std::vector<double> out(in.shape.QElements()), lse(in.shape.LseElements());
  cpu::ReferenceForward(in.shape, in.mask, in.q.values.data(), in.k.values.data(), in.v.values.data(), out.data(),
                        lse.data());
  return {std::move(out), std::move(lse)};
}

inline TensorStrides Contig(int heads, int64_t tokens, int dim) { return {heads * tokens * dim, tokens * dim}; }
inline TensorStrides ContigLse(int heads, int64_t tokens) { return {heads * tokens, tokens}; }

inline BlockShape ToBlockShape(const Case& c) {
  BlockShape s;
  s.batch = c.batch;
  s.heads = c.heads;
  s.kv_heads = c.kv_heads;
  s.q_tokens = c.q_tokens;
  s.kv_tokens = c.kv_tokens;
  s.head_dim = c.head_dim;
  s.causal = c.causal;
  s.diagonal_offset = c.offset;
  s.element = c.element;
  return s;
}

// The test name suffix of a kernel-parametrised test: the kernel's name ("ws", "mma", ...).
inline std::string KernelParamName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

inline void ExpectOk(const Status& st) { ASSERT_TRUE(st.ok()) << "launcher returned an error: " << st.message(); }

}  // namespace ringlab::cuda::test_support
