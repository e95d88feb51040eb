// Benchmark of the CUDA attention kernels on one GPU: forward and forward+backward over a full sequence, with an
// nccl-tests-like table and, given the peer's JSON (bench/peer/peer_bench.py sdpa --json), ratios to PyTorch's
// FLASH (FlashAttention-2) and CUDNN backends measured in the same run on the same card.
//
// FLOPs as the peer counts them: forward = 4 B H S^2 D (halved when causal); forward+backward = 3.5 x forward.
// Times: CUDA events around each repetition after warm-up, median. forward = LaunchForward (overwrite: out + lse);
// forward+backward = forward + delta preprocess + zeroing dQ + LaunchBackward.
//
// Usage: ringlab_attention_bench [--seqs 4096,8192,16384,32768] [--dims 64,128] [--masks causal,full] [--iters 10]
//                                [--heads 32] [--batch 1] [--peer FILE]... [--json OUT] [--md OUT] [--commit SHA]
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

struct PeerKey {
  std::string backend;
  int d;
  int64_t s;
  bool causal;
  bool operator<(const PeerKey& o) const {
    return std::tie(backend, d, s, causal) < std::tie(o.backend, o.d, o.s, o.causal);
  }
};
struct PeerVal {
  double fwd_tflops = 0, fwdbwd_tflops = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> seqs = {4096, 8192, 16384, 32768};
  std::vector<int> dims = {64, 128};
  std::vector<bool> masks = {true, false};
  int iters = 10, heads = 32, batch = 1;
  double sustain_ms = 0;  // > 0: timed after this much GPU time back to back (bench_timing.cuh TimeMs)
  std::vector<std::string> peer_files;
  std::string json_out, md_out, commit = "unknown", bwd_kernel = "default", fwd_kernel = "default";
  bool fp16 = false, merge = false, no_backward = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seqs") {
      seqs.clear();
      for (auto& s : Split(next())) seqs.push_back(std::stoll(s));
    } else if (a == "--dims") {
      dims.clear();
      for (auto& s : Split(next())) dims.push_back(std::stoi(s));
    } else if (a == "--masks") {
      masks.clear();
      for (auto& s : Split(next())) masks.push_back(s == "causal");
    } else if (a == "--iters") {
      iters = std::stoi(next());
      if (iters < 1 || iters > 100000) {
        std::fprintf(stderr, "--iters must be in [1, 100000]\n");
        return 2;
      }
    } else if (a == "--sustain-ms") {
      sustain_ms = std::stod(next());
      if (!(sustain_ms >= 0 && sustain_ms <= 10000)) {
        std::fprintf(stderr, "--sustain-ms must be in [0, 10000]\n");
        return 2;
      }
    } else if (a == "--heads") {
      heads = std::stoi(next());
    } else if (a == "--batch") {
      batch = std::stoi(next());
    } else if (a == "--peer") {
      peer_files.push_back(next());
    } else if (a == "--json") {
      json_out = next();
    } else if (a == "--md") {
      md_out = next();
    } else if (a == "--commit") {
      commit = next();
    } else if (a == "--fp16") {
      fp16 = true;
    } else if (a == "--merge") {
      merge = true;
    } else if (a == "--no-backward") {
      no_backward = true;
    } else if (a == "--fwd-kernel") {
      fwd_kernel = next();
      if (fwd_kernel != "default" && fwd_kernel != "ws" && fwd_kernel != "wgmma" && fwd_kernel != "mma") {
        std::fprintf(stderr, "--fwd-kernel must be default, ws, wgmma or mma\n");
        return 2;
      }
    } else if (a == "--bwd-kernel") {
      bwd_kernel = next();
      if (bwd_kernel != "default" && bwd_kernel != "ws" && bwd_kernel != "ws1" && bwd_kernel != "wgmma" &&
          bwd_kernel != "mma") {
        std::fprintf(stderr, "--bwd-kernel must be default, ws, ws1, wgmma or mma\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }

  std::map<PeerKey, PeerVal> peer;
  for (const auto& f : peer_files) {
    std::ifstream in(f);
    if (!in) {
      std::fprintf(stderr, "warning: cannot read peer file %s\n", f.c_str());
      continue;
    }
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_array()) continue;
    for (const auto& r : j) {
      if (r.value("kind", "") != "single_gpu_sdpa" || r.contains("error")) continue;
      PeerKey k{r.value("backend", ""), r.value("D", 0), r.value("S", int64_t{0}), r.value("causal", false)};
      peer[k] = PeerVal{r.value("fwd_tflops", 0.0), r.value("fwdbwd_tflops", 0.0)};
    }
  }

  cudaDeviceProp prop;
  RINGLAB_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));

  const int64_t s_max = *std::max_element(seqs.begin(), seqs.end());
  const int d_max = *std::max_element(dims.begin(), dims.end());
  const int64_t n_max = int64_t{batch} * heads * s_max * d_max;
  const int64_t rows_max = int64_t{batch} * heads * s_max;
  uint16_t *q, *k, *v, *dout;
  float *out, *lse, *delta, *dq, *dk, *dv;
  for (uint16_t** p : {&q, &k, &v, &dout}) RINGLAB_CUDA_CHECK(cudaMalloc(p, n_max * 2));
  for (float** p : {&out, &dq, &dk, &dv}) RINGLAB_CUDA_CHECK(cudaMalloc(p, n_max * 4));
  for (float** p : {&lse, &delta}) RINGLAB_CUDA_CHECK(cudaMalloc(p, rows_max * 4));
  uint32_t seed = 12345;
  for (uint16_t* p : {q, k, v, dout}) FillRandom<<<1024, 256>>>(p, n_max, seed++, fp16);
  RINGLAB_CUDA_CHECK(cudaGetLastError());
  RINGLAB_CUDA_CHECK(cudaDeviceSynchronize());

  nlohmann::json results = nlohmann::json::array();
  std::ostringstream md;
  md << "# ringlab attention kernels vs PyTorch SDPA\n\n"
     << "card: " << prop.name << ", date: " << date << ", commit: " << commit << ", B=" << batch << " H=" << heads
     << (fp16 ? " fp16" : " bf16") << (merge ? ", forward in merge mode" : "") << ", iters=" << iters << " (median)" << (sustain_ms > 0 ? ", sustained " + std::to_string(int(sustain_ms)) + " ms" : std::string())
     << ", forward kernel " << fwd_kernel
     << ", backward kernel " << bwd_kernel << "\n\n"
     << "| D | S | mask | fwd ms | fwd TFLOP/s | /FLASH | /CUDNN | fwd+bwd ms | fwd+bwd TFLOP/s | /FLASH | /CUDNN |\n"
     << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  std::printf("%4s %6s %6s %9s %8s %7s %7s %10s %8s %7s %7s\n", "D", "S", "mask", "fwd_ms", "fwd_TF", "/FLASH",
              "/CUDNN", "fwdbwd_ms", "fb_TF", "/FLASH", "/CUDNN");
  for (int d : dims)
    for (bool causal : masks)
      for (int64_t s : seqs) {
        BlockShape shape;
        shape.batch = batch;
        shape.heads = heads;
        shape.kv_heads = heads;
        shape.q_tokens = shape.kv_tokens = s;
        shape.head_dim = d;
        shape.causal = causal;
        shape.element = fp16 ? ElementType::kFloat16 : ElementType::kBFloat16;
        const TensorStrides st{heads * s * d, s * d}, lst{heads * s, s};
        ForwardParams fp;
        fp.shape = shape;
        fp.q = q;
        fp.k = k;
        fp.v = v;
        fp.q_strides = fp.k_strides = fp.v_strides = fp.out_strides = st;
        fp.out_acc = out;
        fp.lse_acc = lse;
        fp.lse_strides = lst;
        // --merge times the ring-step case: the epilogue log-sum-exp-merges into (out, lse) written by a first
        // overwrite launch before the timing (so the accumulators hold real values).
        fp.mode = AccumulateMode::kOverwrite;
        auto launch_fwd = [&] {
          if (fwd_kernel == "default") return LaunchForward(fp, nullptr);  // what the executor and calibrate run
          if (fwd_kernel == "ws") return LaunchForwardWs(fp, nullptr);
          return fwd_kernel == "mma" ? LaunchForwardMma(fp, nullptr) : LaunchForwardWgmma(fp, nullptr);
        };
        if (merge) {
          Check(launch_fwd(), "LaunchForward");
          fp.mode = AccumulateMode::kMerge;
        }
        BackwardPrepareParams pp;
        pp.batch = batch;
        pp.heads = heads;
        pp.tokens = s;
        pp.head_dim = d;
        pp.dout = dout;
        pp.out = out;
        pp.dout_strides = pp.out_strides = st;
        pp.delta = delta;
        pp.delta_strides = lst;
        BackwardParams bp;
        bp.shape = shape;
        bp.q = q;
        bp.k = k;
        bp.v = v;
        bp.dout = dout;
        bp.lse = lse;
        bp.delta = delta;
        bp.q_strides = bp.k_strides = bp.v_strides = bp.dout_strides = st;
        bp.dq_strides = bp.dk_strides = bp.dv_strides = st;
        bp.lse_strides = bp.delta_strides = lst;
        bp.dq = dq;
        bp.dk = dk;
        bp.dv = dv;
        bp.accumulate_dkv = false;
        const int64_t elems = int64_t{batch} * heads * s * d;
        auto fwd = [&] { Check(launch_fwd(), "LaunchForward"); };
        auto fwdbwd = [&] {
          Check(launch_fwd(), "LaunchForward");
          Check(LaunchBackwardPrepare(pp, nullptr), "LaunchBackwardPrepare");
          RINGLAB_CUDA_CHECK(cudaMemsetAsync(dq, 0, elems * 4));
          Check(bwd_kernel == "default" ? LaunchBackward(bp, nullptr)
                : bwd_kernel == "ws"    ? LaunchBackwardWs(bp, nullptr)
                : bwd_kernel == "ws1"   ? LaunchBackwardWsAtomicDq(bp, nullptr)
                : bwd_kernel == "wgmma" ? LaunchBackwardWgmma(bp, nullptr)
                                        : LaunchBackwardMma(bp, nullptr),
                "LaunchBackward");
        };
        const double t_f = TimeMs(fwd, iters, sustain_ms);
        const bool bwd_takes_d = d <= 128 || bwd_kernel == "default" || bwd_kernel == "ws" || bwd_kernel == "ws1";
        const bool has_backward = bwd_takes_d && !no_backward;  // t_fb = 0: not measured
        const double t_fb = has_backward ? TimeMs(fwdbwd, iters, sustain_ms) : 0.0;
        RINGLAB_CUDA_CHECK(cudaGetLastError());
        double flops = 4.0 * batch * heads * double(s) * double(s) * d;
        if (causal) flops /= 2;
        const double tf_f = flops / t_f / 1e9, tf_fb = has_backward ? 3.5 * flops / t_fb / 1e9 : 0.0;
        const PeerVal fl = peer.count({"FLASH_ATTENTION", d, s, causal}) ? peer[{"FLASH_ATTENTION", d, s, causal}] : PeerVal{};
        const PeerVal cu = peer.count({"CUDNN_ATTENTION", d, s, causal}) ? peer[{"CUDNN_ATTENTION", d, s, causal}] : PeerVal{};
        auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
        std::printf("%4d %6lld %6s %9.3f %8.1f %7.2f %7.2f %10.3f %8.1f %7.2f %7.2f\n", d, static_cast<long long>(s),
                    causal ? "causal" : "full", t_f, tf_f, ratio(tf_f, fl.fwd_tflops), ratio(tf_f, cu.fwd_tflops), t_fb,
                    tf_fb, ratio(tf_fb, fl.fwdbwd_tflops), ratio(tf_fb, cu.fwdbwd_tflops));
        std::fflush(stdout);
        char line[512];
        std::snprintf(line, sizeof line,
                      "| %d | %lld | %s | %.3f | %.1f | %.2f (%.0f) | %.2f (%.0f) | %.3f | %.1f | %.2f (%.0f) | %.2f (%.0f) |\n",
                      d, static_cast<long long>(s), causal ? "causal" : "full", t_f, tf_f, ratio(tf_f, fl.fwd_tflops),
                      fl.fwd_tflops, ratio(tf_f, cu.fwd_tflops), cu.fwd_tflops, t_fb, tf_fb,
                      ratio(tf_fb, fl.fwdbwd_tflops), fl.fwdbwd_tflops, ratio(tf_fb, cu.fwdbwd_tflops), cu.fwdbwd_tflops);
        md << line;
        results.push_back({{"kind", "ringlab_attention"}, {"B", batch}, {"H", heads}, {"S", s}, {"D", d},
                           {"causal", causal}, {"fwd_ms", t_f}, {"fwdbwd_ms", t_fb}, {"fwd_tflops", tf_f},
                           {"fwdbwd_tflops", tf_fb}, {"flash_fwd_tflops", fl.fwd_tflops},
                           {"flash_fwdbwd_tflops", fl.fwdbwd_tflops}, {"cudnn_fwd_tflops", cu.fwd_tflops},
                           {"cudnn_fwdbwd_tflops", cu.fwdbwd_tflops}, {"bwd_kernel", bwd_kernel}, {"fwd_kernel", fwd_kernel},
                           {"element", fp16 ? "fp16" : "bf16"}, {"forward_mode", merge ? "merge" : "overwrite"}, {"gpu", prop.name}, {"date", date},
                           {"commit", commit}, {"sustain_ms", sustain_ms}});
      }
  md << "\nRatios are ours / peer TFLOP/s, the peer's TFLOP/s in parentheses (0: not measured).\n";
  if (!json_out.empty()) std::ofstream(json_out) << results.dump(1) << "\n";
  if (!md_out.empty()) std::ofstream(md_out) << md.str();
  for (uint16_t* p : {q, k, v, dout}) cudaFree(p);
  for (float* p : {out, lse, delta, dq, dk, dv}) cudaFree(p);
  return 0;
}
