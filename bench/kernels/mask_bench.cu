// Benchmark of the masked CUDA attention kernels (TokenMask: document and sliding-window masks) on one GPU, and of
// the dense causal kernel at the same shape, as the floor of issue 19 asks (masked >= 0.9x dense TFLOP/s).
//
// Reads the cases that bench/kernels/mask_peer_bench.py writes (--cases-out), so ours and PyTorch's paths run on the
// same documents, and writes one JSON object: the dense row and one row per case with its forward and
// forward+backward milliseconds (median of --iters after warm-up, CUDA events). FLOPs are counted by the Python side
// (on the visible pairs). forward = LaunchForward (overwrite); forward+backward = forward + delta preprocess + zeroing
// dQ + LaunchBackward: the project's dispatch, so RINGLAB_FWD_KERNEL / RINGLAB_BWD_KERNEL pick the kernels.
//
// Usage: ringlab_mask_bench --cases FILE [--iters 10] [--sustain-ms 0] [--dense-each] [--json OUT ('-': stdout)]
// --sustain-ms X > 0: each kernel runs back to back for about X ms before its timed runs (the clock the card's power
// limit allows under that kernel, as in training), instead of synchronised single runs after 3 warm-ups (bursts).
// --dense-each: the dense causal kernel is timed again right before every case (the case's row gets dense_fwd_ms and
// dense_fwdbwd_ms): the card's clock drifts over a run (measured: dense forward 4-16% slower after the cases than
// before them), so a case is compared with the dense kernel timed next to it.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/kernels/bench_timing.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"

namespace {

using namespace ringlab::bench;
using namespace ringlab::cuda;

// A launcher's error: the case is recorded as failed and the next one runs.
void Check(const ringlab::Status& st, const char* what) {
  if (!st.ok()) throw std::runtime_error(std::string(what) + ": " + st.message());
}

// Device buffers of one shape: B = 1, H heads (and kv heads), S tokens, head dim D, bf16 operands.
struct Buffers {
  uint16_t *q = nullptr, *k = nullptr, *v = nullptr, *dout = nullptr;
  float *out = nullptr, *lse = nullptr, *delta = nullptr, *dq = nullptr, *dk = nullptr, *dv = nullptr;
  int32_t* bounds = nullptr;  // doc_start[S] then doc_end[S]
  int64_t elems = 0;

  Buffers(int heads, int64_t seq, int dim) : elems(int64_t{heads} * seq * dim) {
    for (uint16_t** p : {&q, &k, &v, &dout}) RINGLAB_CUDA_CHECK(cudaMalloc(p, elems * 2));
    for (float** p : {&out, &dq, &dk, &dv}) RINGLAB_CUDA_CHECK(cudaMalloc(p, elems * 4));
    for (float** p : {&lse, &delta}) RINGLAB_CUDA_CHECK(cudaMalloc(p, int64_t{heads} * seq * 4));
    RINGLAB_CUDA_CHECK(cudaMalloc(&bounds, 2 * seq * 4));
    uint32_t seed = 12345;
    for (uint16_t* p : {q, k, v, dout}) FillRandom<<<1024, 256>>>(p, elems, seed++, /*fp16=*/false);
    RINGLAB_CUDA_CHECK(cudaGetLastError());
  }
  ~Buffers() {
    for (uint16_t* p : {q, k, v, dout}) cudaFree(p);
    for (float* p : {out, lse, delta, dq, dk, dv}) cudaFree(p);
    cudaFree(bounds);
  }
};

struct Timing {
  double fwd_ms = 0, fwdbwd_ms = 0;
};

// Times forward and forward+backward of one B=1 block over the whole sequence under `shape` (its mask included).
Timing TimeShape(const BlockShape& shape, Buffers& buf, int iters, double sustain_ms) {
  const int64_t s = shape.q_tokens;
  const int d = shape.head_dim;
  const Layouts l{{shape.heads * s * d, s * d}, {shape.kv_heads * s * d, s * d}, {shape.heads * s, s}};
  const Operands ops{buf.q, buf.k, buf.v, buf.dout, buf.out, buf.lse, buf.delta, buf.dq, buf.dk, buf.dv};
  const ForwardParams fp = WholeForward(shape, ops, l);
  const BackwardPrepareParams pp = WholePrepare(shape, ops, l);
  const BackwardParams bp = WholeBackward(shape, ops, l);
  auto fwd = [&] { Check(LaunchForward(fp, nullptr), "LaunchForward"); };
  auto fwdbwd = [&] {
    fwd();
    Check(LaunchBackwardPrepare(pp, nullptr), "LaunchBackwardPrepare");
    RINGLAB_CUDA_CHECK(cudaMemsetAsync(buf.dq, 0, buf.elems * 4));
    Check(LaunchBackward(bp, nullptr), "LaunchBackward");
  };
  Timing t;
  t.fwd_ms = TimeMs(fwd, iters, sustain_ms);
  t.fwdbwd_ms = TimeMs(fwdbwd, iters, sustain_ms);
  RINGLAB_CUDA_CHECK(cudaGetLastError());
  return t;
}

// The TokenMask of a case over the whole sequence (q and kv both start at token 0): a causal sliding window of
// `window` keys back (-1: none) inside documents `docs` (cu_seqlens; uploaded into buf.bounds).
TokenMask CaseMask(const std::vector<int64_t>& docs, int64_t window, bool causal, int64_t seq, Buffers& buf) {
  constexpr int64_t kFar = int64_t{1} << 60;
  TokenMask m;
  m.enabled = true;
  m.lo = window >= 0 ? -window : -kFar;
  m.hi = causal ? 0 : kFar;
  if (docs.size() > 2) {
    std::vector<int32_t> b(2 * seq);
    for (size_t i = 0; i + 1 < docs.size(); ++i)
      for (int64_t t = docs[i]; t < docs[i + 1]; ++t) {
        b[t] = static_cast<int32_t>(docs[i]);
        b[seq + t] = static_cast<int32_t>(docs[i + 1]);
      }
    RINGLAB_CUDA_CHECK(cudaMemcpy(buf.bounds, b.data(), b.size() * 4, cudaMemcpyHostToDevice));
    m.doc_start = buf.bounds;
    m.doc_end = buf.bounds + seq;
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cases_path, json_out = "-";
  int iters = 10;
  double sustain_ms = 0;
  bool dense_each = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dense-each") {
      dense_each = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: needs a value (--cases FILE, --iters N, --sustain-ms X, --dense-each, --json OUT)\n",
                   a.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--cases") cases_path = v;
    else if (a == "--iters" || a == "--sustain-ms") {
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      const bool whole = a == "--iters";
      if (end == v.c_str() || *end != '\0' || !(x >= (whole ? 1 : 0)) || x > 1e6 || (whole && x != int(x))) {
        std::fprintf(stderr, "%s: '%s' is not %s\n", a.c_str(), v.c_str(),
                     whole ? "a whole number from 1 to 1000000" : "a number of milliseconds from 0 to 1000000");
        return 2;
      }
      if (whole) iters = int(x);
      else sustain_ms = x;
    }
    else if (a == "--json") json_out = v;
    else {
      std::fprintf(stderr,
                   "unknown option %s: allowed --cases FILE, --iters N, --sustain-ms X, --dense-each, --json OUT\n",
                   a.c_str());
      return 2;
    }
  }
  std::ifstream in(cases_path);
  if (!in) {
    std::fprintf(stderr, "--cases: cannot read '%s' (the JSON of mask_peer_bench.py --cases-out)\n",
                 cases_path.c_str());
    return 2;
  }
  const nlohmann::json spec = nlohmann::json::parse(in);
  const int heads = spec.at("heads"), dim = spec.at("dim");
  const int64_t seq = spec.at("seq");
  Buffers buf(heads, seq, dim);
  BlockShape shape;
  shape.heads = shape.kv_heads = heads;
  shape.q_tokens = shape.kv_tokens = seq;
  shape.head_dim = dim;
  shape.causal = true;
  // One row: its timing, or the error that stopped it (cleared, so that the next case runs).
  auto row = [&](const std::string& name) -> nlohmann::json {
    try {
      const Timing t = TimeShape(shape, buf, iters, sustain_ms);
      std::fprintf(stderr, "ours %s: fwd %.3f ms, fwd+bwd %.3f ms\n", name.c_str(), t.fwd_ms, t.fwdbwd_ms);
      return {{"fwd_ms", t.fwd_ms}, {"fwdbwd_ms", t.fwdbwd_ms}};
    } catch (const std::runtime_error& e) {
      std::fprintf(stderr, "ours %s: %s\n", name.c_str(), e.what());
      RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
      (void)cudaGetLastError();
      return {{"error", e.what()}};
    }
  };
  nlohmann::json result;
  result["dense_causal"] = row("dense causal");
  for (const auto& c : spec.at("cases")) {
    const std::string name = c.at("name");
    nlohmann::json dense;
    if (dense_each) {
      shape.mask = TokenMask{};
      dense = row("dense causal (before " + name + ")");
    }
    shape.mask = CaseMask(c.at("docs").get<std::vector<int64_t>>(), c.at("window"), true, seq, buf);
    nlohmann::json r = row(name);
    for (const char* key : {"fwd_ms", "fwdbwd_ms"})
      if (dense.contains(key)) r[std::string("dense_") + key] = dense[key];
    result["cases"][name] = r;
  }
  // Dense again after the cases: the cases run on a card the dense bursts have heated, so a clock drift shows here.
  shape.mask = TokenMask{};
  result["dense_causal_after"] = row("dense causal (after the cases)");
  if (json_out == "-") {
    std::printf("%s\n", result.dump(1).c_str());
  } else {
    std::ofstream(json_out) << result.dump(1) << "\n";
  }
  return 0;
}
