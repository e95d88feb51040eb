// Attention and memory-bound kernels of a ring step, timed one block shape at a time on one GPU.
#include <cuda_runtime.h>

#include <map>
#include <utility>

#include "calibrate/microbench/checks.h"
#include "calibrate/microbench/microbench.h"
#include "calibrate/microbench/timing.h"
#include "kernels/cuda/attention_kernels.h"
#include "kernels/cuda/gpu_helpers.h"

namespace ringlab::calibrate {
namespace {

using cuda::ElementType;

// Buffers of one block: [batch][heads][tokens][dim] bf16 inputs, float32 accumulators and gradients.
struct BlockBuffers {
  DeviceBuffer q, k, v, dout, out, lse, delta, dq, dk, dv;
};

gpu::ShardMap WholeSequence(int64_t tokens) {
  gpu::ShardMap m;
  m.shard_tokens = m.chunk_tokens = m.seq = tokens;
  m.chunks = 1;
  return m;
}

Status Allocate(const KernelCase& c, bool backward, cudaStream_t st, BlockBuffers* b) {
  const int64_t qe = int64_t(c.batch) * c.heads * c.q * c.head_dim;
  const int64_t kve = int64_t(c.batch) * c.kv_heads * c.kv * c.head_dim;
  const int64_t rows = int64_t(c.batch) * c.heads * c.q;
  RINGLAB_RETURN_IF_ERROR(b->q.Allocate(qe * 2));
  RINGLAB_RETURN_IF_ERROR(b->k.Allocate(kve * 2));
  RINGLAB_RETURN_IF_ERROR(b->v.Allocate(kve * 2));
  RINGLAB_RETURN_IF_ERROR(b->out.Allocate(qe * 4));
  RINGLAB_RETURN_IF_ERROR(b->lse.Allocate(rows * 4));
  const ElementType e = ElementType::kBFloat16;
  RINGLAB_RETURN_IF_ERROR(
      gpu::LaunchRandomFill(e, b->q.get(), int64_t(c.batch) * c.heads, c.head_dim, WholeSequence(c.q), 1, 0, st));
  RINGLAB_RETURN_IF_ERROR(
      gpu::LaunchRandomFill(e, b->k.get(), int64_t(c.batch) * c.kv_heads, c.head_dim, WholeSequence(c.kv), 1, 1, st));
  RINGLAB_RETURN_IF_ERROR(
      gpu::LaunchRandomFill(e, b->v.get(), int64_t(c.batch) * c.kv_heads, c.head_dim, WholeSequence(c.kv), 1, 2, st));
  if (!backward) return Status::Ok();
  RINGLAB_RETURN_IF_ERROR(b->dout.Allocate(qe * 2));
  RINGLAB_RETURN_IF_ERROR(b->delta.Allocate(rows * 4));
  RINGLAB_RETURN_IF_ERROR(b->dq.Allocate(qe * 4));
  RINGLAB_RETURN_IF_ERROR(b->dk.Allocate(kve * 4));
  RINGLAB_RETURN_IF_ERROR(b->dv.Allocate(kve * 4));
  RINGLAB_RETURN_IF_ERROR(
      gpu::LaunchRandomFill(e, b->dout.get(), int64_t(c.batch) * c.heads, c.head_dim, WholeSequence(c.q), 1, 3, st));
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(b->dq.get(), 0, qe * 4, st));
  return Status::Ok();
}

cuda::BlockShape Shape(const KernelCase& c) {
  cuda::BlockShape s;
  s.batch = c.batch;
  s.heads = c.heads;
  s.kv_heads = c.kv_heads;
  s.q_tokens = c.q;
  s.kv_tokens = c.kv;
  s.head_dim = c.head_dim;
  s.causal = c.mask == "causal";
  s.diagonal_offset = c.diagonal_offset;
  s.element = ElementType::kBFloat16;
  return s;
}

cuda::TensorStrides Strides(int heads, int64_t tokens, int64_t row) { return {heads * tokens * row, tokens * row}; }

cuda::ForwardParams Forward(const KernelCase& c, const BlockBuffers& b, cuda::AccumulateMode mode) {
  cuda::ForwardParams p;
  p.shape = Shape(c);
  p.q = b.q.get();
  p.k = b.k.get();
  p.v = b.v.get();
  p.q_strides = Strides(c.heads, c.q, c.head_dim);
  p.k_strides = p.v_strides = Strides(c.kv_heads, c.kv, c.head_dim);
  p.out_acc = b.out.get<float>();
  p.lse_acc = b.lse.get<float>();
  p.out_strides = p.q_strides;
  p.lse_strides = Strides(c.heads, c.q, 1);
  p.mode = mode;
  return p;
}

cuda::BackwardPrepareParams Prepare(const KernelCase& c, const BlockBuffers& b) {
  cuda::BackwardPrepareParams p;
  p.batch = c.batch;
  p.heads = c.heads;
  p.tokens = c.q;
  p.head_dim = c.head_dim;
  p.dout = b.dout.get();
  p.out = b.out.get<float>();
  p.dout_strides = p.out_strides = Strides(c.heads, c.q, c.head_dim);
  p.delta = b.delta.get<float>();
  p.delta_strides = Strides(c.heads, c.q, 1);
  return p;
}

cuda::BackwardParams Backward(const KernelCase& c, const BlockBuffers& b) {
  cuda::BackwardParams p;
  p.shape = Shape(c);
  p.q = b.q.get();
  p.k = b.k.get();
  p.v = b.v.get();
  p.dout = b.dout.get();
  p.lse = b.lse.get<float>();
  p.delta = b.delta.get<float>();
  p.q_strides = p.dout_strides = p.dq_strides = Strides(c.heads, c.q, c.head_dim);
  p.k_strides = p.v_strides = p.dk_strides = p.dv_strides = Strides(c.kv_heads, c.kv, c.head_dim);
  p.lse_strides = p.delta_strides = Strides(c.heads, c.q, 1);
  p.dq = b.dq.get<float>();
  p.dk = b.dk.get<float>();
  p.dv = b.dv.get<float>();
  p.accumulate_dkv = false;  // a ring step writes this block's dK/dV into a part buffer; a merge op adds it
  return p;
}

std::string Describe(const KernelCase& c) {
  return c.pass + " " + c.mask + " D=" + std::to_string(c.head_dim) + " H=" + std::to_string(c.heads) +
         " Hkv=" + std::to_string(c.kv_heads) + " q=" + std::to_string(c.q) + " kv=" + std::to_string(c.kv) + " (" +
         c.why + ")";
}

}  // namespace

Status BenchKernels(int device, const std::vector<KernelCase>& plan, const BenchOptions& o, FitInputs* out) {
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaSetDevice(device));
  cudaStream_t st;
  RINGLAB_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  StreamGuard guard(st);
  EventTimer timer;
  RINGLAB_RETURN_IF_ERROR(timer.Init());
  std::map<int64_t, bool> merge_sizes_done;
  if (o.preheat_ms > 0) {
    const KernelCase* heavy = nullptr;
    for (const KernelCase& c : plan)
      if (c.pass == "forward" && (!heavy || c.Pairs() * c.heads > heavy->Pairs() * heavy->heads)) heavy = &c;
    if (heavy) {
      BlockBuffers b;
      RINGLAB_RETURN_IF_ERROR(Allocate(*heavy, false, st, &b));
      const cuda::ForwardParams p = Forward(*heavy, b, cuda::AccumulateMode::kOverwrite);
      std::vector<double> ignored;
      RINGLAB_RETURN_IF_ERROR(timer.TimeSustained(
          st, o.preheat_ms, 1, [&] { return cuda::LaunchForward(p, st); }, &ignored));
      if (o.progress) o.progress("pre-heated for " + std::to_string(int(o.preheat_ms)) + " ms: " + Describe(*heavy));
    }
  }
  size_t done = 0;
  for (const KernelCase& c : plan) {
    const bool backward = c.pass == "backward";
    BlockBuffers b;
    RINGLAB_RETURN_IF_ERROR(Allocate(c, backward, st, &b));
    // The first block of a ring step overwrites the accumulators; later ones merge (timed, the fused epilogue).
    RINGLAB_RETURN_IF_ERROR(cuda::LaunchForward(Forward(c, b, cuda::AccumulateMode::kOverwrite), st));
    std::vector<double> us;
    if (!backward) {
      // Timed both ways: a ring step's first block and a single-GPU attention overwrite; later blocks merge, whose
      // epilogue reads the float32 accumulators back (a visible share of a short kernel's time).
      std::vector<double> overwrite_us;
      for (auto [mode, times] : {std::pair{cuda::AccumulateMode::kMerge, &us},
                                 std::pair{cuda::AccumulateMode::kOverwrite, &overwrite_us}}) {
        const cuda::ForwardParams p = Forward(c, b, mode);
        auto launch = [&] { return cuda::LaunchForward(p, st); };
        RINGLAB_RETURN_IF_ERROR(o.sustain_ms > 0 ? timer.TimeSustained(st, o.sustain_ms, o.reps, launch, times)
                                             : timer.Time(st, o.warmup, o.reps, launch, times));
      }
      KernelSample s = ToSample(c, overwrite_us);
      s.mode = "overwrite";
      out->kernels.push_back(s);
    } else {
      const cuda::BackwardPrepareParams pp = Prepare(c, b);
      std::vector<double> prep;
      RINGLAB_RETURN_IF_ERROR(timer.Time(
          st, o.warmup, o.reps, [&] { return cuda::LaunchBackwardPrepare(pp, st); }, &prep));
      const int64_t qe = int64_t(c.batch) * c.heads * c.q * c.head_dim, rows = int64_t(c.batch) * c.heads * c.q;
      out->memory.push_back({"copy", qe * 2 + qe * 4 + rows * 4, MedianOf(prep)});
      const cuda::BackwardParams p = Backward(c, b);
      auto launch = [&] { return cuda::LaunchBackward(p, st); };
      RINGLAB_RETURN_IF_ERROR(o.sustain_ms > 0 ? timer.TimeSustained(st, o.sustain_ms, o.reps, launch, &us)
                                           : timer.Time(st, o.warmup, o.reps, launch, &us));
      // The dK/dV add of the ring (float32 accumulator += part), once per size.
      const int64_t n = int64_t(c.batch) * c.kv_heads * c.kv * c.head_dim;
      if (!merge_sizes_done[n]) {
        merge_sizes_done[n] = true;
        std::vector<double> add;
        RINGLAB_RETURN_IF_ERROR(timer.Time(st, o.warmup, o.reps,
                                       [&] { return gpu::LaunchAdd(b.dk.get<float>(), b.dv.get<float>(), n, st); }, &add));
        out->memory.push_back({"merge", 3 * n * 4, MedianOf(add)});
      }
    }
    out->kernels.push_back(ToSample(c, us));
    ++done;
    if (o.progress) {
      char line[256];
      snprintf(line, sizeof line, "[%zu/%zu] %s: %.1f us", done, plan.size(), Describe(c).c_str(), out->kernels.back().us);
      o.progress(line);
    }
  }
  return Status::Ok();
}

}  // namespace ringlab::calibrate
