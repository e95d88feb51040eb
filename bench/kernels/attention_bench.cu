// Benchmark of the CUDA attention kernels on one GPU: forward and forward+backward over a full sequence, with an
// nccl-tests-like table and, given the peer's JSON (bench/peer/peer_bench.py sdpa --json), ratios to PyTorch's
// FLASH (FlashAttention-2) and CUDNN backends measured in the same run on the same card.
//
// FLOPs as the peer counts them: forward = 4 B H S^2 D (halved when causal); forward+backward = 3.5 x forward.
// Times: CUDA events around each repetition after warm-up, median. forward = LaunchForward (overwrite: out + lse);
// forward+backward = forward + delta preprocess + zeroing dQ + LaunchBackward.
//
// Usage: ringlab_attention_bench [--seqs 4096,8192,16384,32768] [--dims 64,128] [--masks causal,full] [--iters 10]
//                                [--heads 32] [--kv-heads H (GQA when fewer; default --heads)] [--batch 1]
//                                [--peer FILE]... [--json OUT] [--md OUT] [--commit SHA]
//                                [--bwd-kernel default|ws|ws1|wgmma|mma] (backward: LaunchBackward, the project's
//                                dispatch (default), or LaunchBackwardWs, LaunchBackwardWsAtomicDq, Wgmma, Mma)
//                                [--fwd-kernel default|ws|wgmma|mma] (forward: LaunchForward (default), or
//                                LaunchForwardWs, Wgmma, Mma). Head dim 256 (ws only): the backward only with
//                                --bwd-kernel default, ws or ws1 (the others refuse it: fwd+bwd columns 0)
//                                [--no-backward] (forward only: fwd+bwd columns 0, for quick A/B runs)
//                                [--fp16] (fp16 inputs; default bf16)  [--merge] (forward merges into running
//                                (out, lse) accumulators, the ring-step case; default overwrite)
//                                [--sustain-ms MS] (time after MS of GPU time back to back, then back to back: the
//                                clocks the power limit allows; default 0, synchronised bursts)
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/kernels/bench_timing.cuh"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/cuda_check.h"

namespace {

using namespace ringlab::bench;
using namespace ringlab::cuda;

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void Check(const ringlab::Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, st.message().c_str());
    std::exit(1);
  }
}

// A peer record matches a row of ours at the same problem: batch, query and KV heads (GQA rows match the peer's
// enable_gqa records), head dim, length and mask.
struct PeerKey {
  std::string backend;
  int batch, heads, kv_heads, d;
  int64_t s;
  bool causal;
  bool operator<(const PeerKey& o) const {
    return std::tie(backend, batch, heads, kv_heads, d, s, causal) <
           std::tie(o.backend, o.batch, o.heads, o.kv_heads, o.d, o.s, o.causal);
  }
};
struct PeerVal {
  double fwd_tflops = 0, fwdbwd_tflops = 0;
};

struct Options {
  std::vector<int64_t> seqs = {4096, 8192, 16384, 32768};
  std::vector<int> dims = {64, 128};
  std::vector<bool> masks = {true, false};
  int iters = 10, heads = 32, kv_heads = 0, batch = 1;  // kv_heads 0: = heads (no GQA)
  double sustain_ms = 0;  // > 0: timed after this much GPU time back to back (bench_timing.cuh TimeMs)
  std::vector<std::string> peer_files;
  std::string json_out, md_out, commit = "unknown", bwd_kernel = "default", fwd_kernel = "default";
  bool fp16 = false, merge = false, no_backward = false;
};

// Parses argv into *o; returns 0, or the exit code (2) after one line on stderr naming the flag.
int ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    auto bad = [&](const char* allowed) {
      std::fprintf(stderr, "%s must be %s\n", a.c_str(), allowed);
      return 2;
    };
    if (a == "--seqs") {
      o->seqs.clear();
      for (auto& s : Split(next())) o->seqs.push_back(std::stoll(s));
    } else if (a == "--dims") {
      o->dims.clear();
      for (auto& s : Split(next())) o->dims.push_back(std::stoi(s));
    } else if (a == "--masks") {
      o->masks.clear();
      for (auto& s : Split(next())) o->masks.push_back(s == "causal");
    } else if (a == "--iters") {
      o->iters = std::stoi(next());
      if (o->iters < 1 || o->iters > 100000) return bad("in [1, 100000]");
    } else if (a == "--sustain-ms") {
      o->sustain_ms = std::stod(next());
      if (!(o->sustain_ms >= 0 && o->sustain_ms <= 10000)) return bad("in [0, 10000]");
    } else if (a == "--heads") {
      o->heads = std::stoi(next());
    } else if (a == "--kv-heads") {
      o->kv_heads = std::stoi(next());
    } else if (a == "--batch") {
      o->batch = std::stoi(next());
    } else if (a == "--peer") {
      o->peer_files.push_back(next());
    } else if (a == "--json") {
      o->json_out = next();
    } else if (a == "--md") {
      o->md_out = next();
    } else if (a == "--commit") {
      o->commit = next();
    } else if (a == "--fp16") {
      o->fp16 = true;
    } else if (a == "--merge") {
      o->merge = true;
    } else if (a == "--no-backward") {
      o->no_backward = true;
    } else if (a == "--fwd-kernel") {
      o->fwd_kernel = next();
      const std::string& k = o->fwd_kernel;
      if (k != "default" && k != "ws" && k != "wgmma" && k != "mma") return bad("default, ws, wgmma or mma");
    } else if (a == "--bwd-kernel") {
      o->bwd_kernel = next();
      const std::string& k = o->bwd_kernel;
      if (k != "default" && k != "ws" && k != "ws1" && k != "wgmma" && k != "mma")
        return bad("default, ws, ws1, wgmma or mma");
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (o->heads < 1 || o->batch < 1) {
    std::fprintf(stderr, "--heads and --batch must be >= 1\n");
    return 2;
  }
  if (o->kv_heads == 0) o->kv_heads = o->heads;
  if (o->kv_heads < 1 || o->heads % o->kv_heads != 0) {
    std::fprintf(stderr, "--kv-heads must divide --heads = %d\n", o->heads);
    return 2;
  }
  return 0;
}

// The peer's TFLOP/s per (backend, D, S, mask) from bench/peer/peer_bench.py sdpa --json files (query heads = key
// heads: the peer is not run with GQA, so GQA rows get no ratio).
std::map<PeerKey, PeerVal> LoadPeer(const std::vector<std::string>& files) {
  std::map<PeerKey, PeerVal> peer;
  for (const auto& f : files) {
    std::ifstream in(f);
    if (!in) {
      std::fprintf(stderr, "warning: cannot read peer file %s\n", f.c_str());
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_array()) continue;
    for (const auto& r : j) {
      if (r.value("kind", "") != "single_gpu_sdpa" || r.contains("error")) continue;
      const int heads = r.value("H", 0);
      PeerKey k{r.value("backend", ""), r.value("B", 0), heads, r.value("Hkv", heads), r.value("D", 0),
                r.value("S", int64_t{0}), r.value("causal", false)};
      peer[k] = PeerVal{r.value("fwd_tflops", 0.0), r.value("fwdbwd_tflops", 0.0)};
    }
  }
  return peer;
}

// Device operands sized for the largest shape, filled with random values once.
struct Buffers {
  uint16_t *q, *k, *v, *dout;
  float *out, *lse, *delta, *dq, *dk, *dv;
};

Buffers AllocateBuffers(const Options& o) {
  const int64_t s_max = *std::max_element(o.seqs.begin(), o.seqs.end());
  const int d_max = *std::max_element(o.dims.begin(), o.dims.end());
  const int64_t n_max = int64_t{o.batch} * o.heads * s_max * d_max;
  const int64_t rows_max = int64_t{o.batch} * o.heads * s_max;
  Buffers b;
  for (uint16_t** p : {&b.q, &b.k, &b.v, &b.dout}) RINGLAB_CUDA_CHECK(cudaMalloc(p, n_max * 2));
  for (float** p : {&b.out, &b.dq, &b.dk, &b.dv}) RINGLAB_CUDA_CHECK(cudaMalloc(p, n_max * 4));
  for (float** p : {&b.lse, &b.delta}) RINGLAB_CUDA_CHECK(cudaMalloc(p, rows_max * 4));
  uint32_t seed = 12345;
  for (uint16_t* p : {b.q, b.k, b.v, b.dout}) FillRandom<<<1024, 256>>>(p, n_max, seed++, o.fp16);
  RINGLAB_CUDA_CHECK(cudaGetLastError());
  RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());
  return b;
}

void FreeBuffers(const Buffers& b) {
  for (uint16_t* p : {b.q, b.k, b.v, b.dout}) cudaFree(p);
  for (float* p : {b.out, b.lse, b.delta, b.dq, b.dk, b.dv}) cudaFree(p);
}

struct Timing {
  double fwd_ms = 0, fwdbwd_ms = 0;  // fwdbwd 0: not measured
};

// Times the forward and forward+backward of one (D, mask, S) shape with the kernels the options choose.
Timing MeasureShape(const Options& o, const Buffers& b, int d, bool causal, int64_t s) {
  BlockShape shape;
  shape.batch = o.batch;
  shape.heads = o.heads;
  shape.kv_heads = o.kv_heads;
  shape.q_tokens = shape.kv_tokens = s;
  shape.head_dim = d;
  shape.causal = causal;
  shape.element = o.fp16 ? ElementType::kFloat16 : ElementType::kBFloat16;
  const Layouts l{{o.heads * s * d, s * d}, {o.kv_heads * s * d, s * d}, {o.heads * s, s}};
  const Operands ops{b.q, b.k, b.v, b.dout, b.out, b.lse, b.delta, b.dq, b.dk, b.dv};
  ForwardParams fp = WholeForward(shape, ops, l);
  // --merge times the ring-step case: the epilogue log-sum-exp-merges into (out, lse) written by a first overwrite
  // launch before the timing (so the accumulators hold real values).
  auto launch_fwd = [&] {
    if (o.fwd_kernel == "default") return LaunchForward(fp, nullptr);  // what the executor and calibrate run
    if (o.fwd_kernel == "ws") return LaunchForwardWs(fp, nullptr);
    return o.fwd_kernel == "mma" ? LaunchForwardMma(fp, nullptr) : LaunchForwardWgmma(fp, nullptr);
  };
  if (o.merge) {
    Check(launch_fwd(), "LaunchForward");
    fp.mode = AccumulateMode::kMerge;
  }
  const BackwardPrepareParams pp = WholePrepare(shape, ops, l);
  const BackwardParams bp = WholeBackward(shape, ops, l);
  const int64_t dq_elems = int64_t{o.batch} * o.heads * s * d;
  const std::string& bk = o.bwd_kernel;
  auto fwd = [&] { Check(launch_fwd(), "LaunchForward"); };
  auto fwdbwd = [&] {
    Check(launch_fwd(), "LaunchForward");
    Check(LaunchBackwardPrepare(pp, nullptr), "LaunchBackwardPrepare");
    RINGLAB_CUDA_CHECK(cudaMemsetAsync(b.dq, 0, dq_elems * 4));
    Check(bk == "default" ? LaunchBackward(bp, nullptr)
          : bk == "ws"    ? LaunchBackwardWs(bp, nullptr)
          : bk == "ws1"   ? LaunchBackwardWsAtomicDq(bp, nullptr)
          : bk == "wgmma" ? LaunchBackwardWgmma(bp, nullptr)
                          : LaunchBackwardMma(bp, nullptr),
          "LaunchBackward");
  };
  Timing t;
  t.fwd_ms = TimeMs(fwd, o.iters, o.sustain_ms);
  const bool bwd_takes_d = d <= 128 || bk == "default" || bk == "ws" || bk == "ws1";
  if (bwd_takes_d && !o.no_backward) t.fwdbwd_ms = TimeMs(fwdbwd, o.iters, o.sustain_ms);
  RINGLAB_CUDA_CHECK(cudaGetLastError());
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const int rc = ParseOptions(argc, argv, &o); rc != 0) return rc;
  std::map<PeerKey, PeerVal> peer = LoadPeer(o.peer_files);

  cudaDeviceProp prop;
  RINGLAB_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  const Buffers buf = AllocateBuffers(o);

  nlohmann::json results = nlohmann::json::array();
  std::ostringstream md;
  md << "# ringlab attention kernels vs PyTorch SDPA\n\n"
     << "card: " << prop.name << ", date: " << date << ", commit: " << o.commit << ", B=" << o.batch
     << " H=" << o.heads << " Hkv=" << o.kv_heads << (o.fp16 ? " fp16" : " bf16")
     << (o.merge ? ", forward in merge mode" : "") << ", iters=" << o.iters << " (median)"
     << (o.sustain_ms > 0 ? ", sustained " + std::to_string(int(o.sustain_ms)) + " ms" : std::string())
     << ", forward kernel " << o.fwd_kernel << ", backward kernel " << o.bwd_kernel << "\n\n"
     << "| D | S | mask | fwd ms | fwd TFLOP/s | /FLASH | /CUDNN | fwd+bwd ms | fwd+bwd TFLOP/s | /FLASH | /CUDNN |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::printf("%4s %6s %6s %9s %8s %7s %7s %10s %8s %7s %7s\n", "D", "S", "mask", "fwd_ms", "fwd_TF", "/FLASH",
              "/CUDNN", "fwdbwd_ms", "fb_TF", "/FLASH", "/CUDNN");
  for (int d : o.dims)
    for (bool causal : o.masks)
      for (int64_t s : o.seqs) {
        const Timing t = MeasureShape(o, buf, d, causal, s);
        double flops = 4.0 * o.batch * o.heads * double(s) * double(s) * d;
        if (causal) flops /= 2;
        const double tf_f = flops / t.fwd_ms / 1e9, tf_fb = t.fwdbwd_ms > 0 ? 3.5 * flops / t.fwdbwd_ms / 1e9 : 0.0;
        auto peer_of = [&](const char* backend) {
          const PeerKey k{backend, o.batch, o.heads, o.kv_heads, d, s, causal};
          return peer.count(k) ? peer[k] : PeerVal{};
        };
        const PeerVal fl = peer_of("FLASH_ATTENTION"), cu = peer_of("CUDNN_ATTENTION");
        auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
        std::printf("%4d %6lld %6s %9.3f %8.1f %7.2f %7.2f %10.3f %8.1f %7.2f %7.2f\n", d, static_cast<long long>(s),
                    causal ? "causal" : "full", t.fwd_ms, tf_f, ratio(tf_f, fl.fwd_tflops), ratio(tf_f, cu.fwd_tflops),
                    t.fwdbwd_ms, tf_fb, ratio(tf_fb, fl.fwdbwd_tflops), ratio(tf_fb, cu.fwdbwd_tflops));
        std::fflush(stdout);
        char line[512];
        std::snprintf(line, sizeof line,
                      "| %d | %lld | %s | %.3f | %.1f | %.2f (%.0f) | %.2f (%.0f) | %.3f | %.1f | %.2f (%.0f) | %.2f (%.0f) |\n",
                      d, static_cast<long long>(s), causal ? "causal" : "full", t.fwd_ms, tf_f,
                      ratio(tf_f, fl.fwd_tflops), fl.fwd_tflops, ratio(tf_f, cu.fwd_tflops), cu.fwd_tflops,
                      t.fwdbwd_ms, tf_fb, ratio(tf_fb, fl.fwdbwd_tflops), fl.fwdbwd_tflops,
                      ratio(tf_fb, cu.fwdbwd_tflops), cu.fwdbwd_tflops);
        md << line;
        results.push_back({{"kind", "ringlab_attention"}, {"B", o.batch}, {"H", o.heads}, {"Hkv", o.kv_heads},
                           {"S", s}, {"D", d}, {"causal", causal}, {"fwd_ms", t.fwd_ms}, {"fwdbwd_ms", t.fwdbwd_ms},
                           {"fwd_tflops", tf_f}, {"fwdbwd_tflops", tf_fb}, {"flash_fwd_tflops", fl.fwd_tflops},
                           {"flash_fwdbwd_tflops", fl.fwdbwd_tflops}, {"cudnn_fwd_tflops", cu.fwd_tflops},
                           {"cudnn_fwdbwd_tflops", cu.fwdbwd_tflops}, {"bwd_kernel", o.bwd_kernel},
                           {"fwd_kernel", o.fwd_kernel}, {"element", o.fp16 ? "fp16" : "bf16"},
                           {"forward_mode", o.merge ? "merge" : "overwrite"}, {"gpu", prop.name}, {"date", date},
                           {"commit", o.commit}, {"sustain_ms", o.sustain_ms}});
      }
  md << "\nRatios are ours / peer TFLOP/s, the peer's TFLOP/s in parentheses (0: no peer record of that B, H, Hkv, D, "
        "S and mask).\n";
  if (!o.json_out.empty()) std::ofstream(o.json_out) << results.dump(1) << "\n";
  if (!o.md_out.empty()) std::ofstream(o.md_out) << md.str();
  FreeBuffers(buf);
  return 0;
}
