// `ringlab run`: execute the schedule for real on GPUs (NCCL + CUDA streams), time it, write its timeline.
//
//   ringlab run --gpus 4 --seq 32768 --heads 32 --kv-heads 32 --method both --pass both --trace run.json
//   torchrun --no-python --standalone --nproc-per-node=4 ringlab run --seq 32768 ...   (one process per GPU)
//   mpirun -np 4 ringlab run --nccl-id-file /shared/id ...
//
// One process drives --gpus local GPUs (a thread each) unless the launcher's environment names a rank
// (RANK/WORLD_SIZE/LOCAL_RANK, OMPI_COMM_WORLD_*, SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID): then this process is one
// rank and the NCCL id travels through --nccl-id-file or MASTER_ADDR:MASTER_PORT+1. Only rank 0 prints and writes.
#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <tuple>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/common_options.h"
#include "apps/exit_codes.h"
#include "apps/logging.h"
#include "apps/progress.h"
#include "core/metrics.h"
#include "core/output_file.h"
#include "kernels/cpu/reference_attention.h"
#include "kernels/cuda/gpu_executor.h"
#include "kernels/cuda/gpu_helpers.h"
#include "kernels/cuda/npy_io.h"

namespace ringlab::cli {

struct RunOptions {
  CommonOptions common;
  int gpus = 0;
  int warmup = 3, iters = 10;
  double warmup_ms = 200;
  bool trace_iterations = false;
  bool stream_order = false;
  uint64_t seed = 1;
  std::string q, k, v, dout;
  std::string out_dir, trace_path, json_path, nccl_id_file;
  bool verify = false, single = false;
  double timeout = 300;
  const CLI::Option* world_flag = nullptr;  // --world given: otherwise one process drives every visible GPU
};

namespace {

constexpr double kOutTol = 1e-2, kGradTol = 2e-2;  // relative error, bf16/fp16 operands
constexpr double kMaxCpuFlops = 2e10;              // CPU float64 reference only below this (forward FLOPs)

// Where the human text goes: stdout, or stderr when an output flag is '-' (set once by RunOnGpus).
FILE* human_text = stdout;

// The naming rule of core/output_file.h.
std::string WithSuffix(const std::string& path, const std::string& suffix) {
  return OutputPathWithSuffix(path, suffix);
}

Status LoadInputs(const RunOptions& o, const Problem& p, gpu::InputSource* in) {
  const bool any = !o.q.empty() || !o.k.empty() || !o.v.empty() || !o.dout.empty();
  in->seed = o.seed;
  if (!any) return Status::Ok();
  if (o.q.empty() || o.k.empty() || o.v.empty())
    return Status::InvalidArgument("--q, --k and --v go together (and --do for the backward)");
  const cuda::ElementType e = p.dtype == DType::kFloat16 ? cuda::ElementType::kFloat16 : cuda::ElementType::kBFloat16;
  const std::vector<int64_t> qs{p.batch, p.heads, p.seq, p.head_dim}, kvs{p.batch, p.kv_heads, p.seq, p.head_dim};
  RINGLAB_RETURN_IF_ERROR(gpu::ReadNpy(o.q, qs, &in->q));
  RINGLAB_RETURN_IF_ERROR(gpu::ReadNpy(o.k, kvs, &in->k));
  RINGLAB_RETURN_IF_ERROR(gpu::ReadNpy(o.v, kvs, &in->v));
  if (!o.dout.empty()) {
    RINGLAB_RETURN_IF_ERROR(gpu::ReadNpy(o.dout, qs, &in->dout));
  } else {  // forward only, or a seeded dOut
    in->dout.resize(in->q.size());
    size_t i = 0;
    for (int64_t row = 0; row < int64_t(p.batch) * p.heads; ++row)
      for (int64_t t = 0; t < p.seq; ++t)
        for (int d = 0; d < p.head_dim; ++d) in->dout[i++] = gpu::RandomValue(o.seed, 3, row, t, d, p.seq, p.head_dim);
  }
  for (auto* v : {&in->q, &in->k, &in->v, &in->dout})
    for (float& x : *v) x = gpu::RoundTo(e, x);
  return Status::Ok();
}

// The tensors of one configuration as .npy streams of the run's batch: renamed into place with every other output.
Status AddTensors(OutputBatch* batch, const std::string& dir, const Problem& p, const gpu::InputSource& in,
                  const gpu::Outputs& o) {
  const std::vector<int64_t> qs{p.batch, p.heads, p.seq, p.head_dim}, kvs{p.batch, p.kv_heads, p.seq, p.head_dim},
      ls{p.batch, p.heads, p.seq};
  std::vector<std::tuple<const char*, const std::vector<int64_t>*, const std::vector<float>*>> files = {
      {"q", &qs, &in.q}, {"k", &kvs, &in.k}, {"v", &kvs, &in.v}, {"do", &qs, &in.dout}, {"out", &qs, &o.out},
      {"lse", &ls, &o.lse}};
  if (!o.dq.empty()) files.insert(files.end(), {{"dq", &qs, &o.dq}, {"dk", &kvs, &o.dk}, {"dv", &kvs, &o.dv}});
  for (const auto& [name, shape, values] : files) {
    std::ostream* f = nullptr;
    RINGLAB_RETURN_IF_ERROR(batch->Open(dir + "/" + name + ".npy", &f));
    RINGLAB_RETURN_IF_ERROR(gpu::WriteNpy(*f, *shape, *values));
  }
  return Status::Ok();
}

// mkdir that remembers what it made; an existing folder is fine.
Status MakeFolder(const std::string& dir, std::vector<std::string>* made) {
  if (::mkdir(dir.c_str(), 0777) == 0) {
    made->push_back(dir);
    return Status::Ok();
  }
  struct stat st;
  if (errno == EEXIST && ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
  return Status::InvalidArgument("--out " + dir + ": cannot make the folder: " + std::strerror(errno));
}

struct Check {
  std::string against, tensor;
  double rel = 0, tol = 0;
};

// Float64 CPU reference of the whole problem on the (bf16-rounded) inputs.
void CpuReference(const Problem& p, const gpu::InputSource& in, bool backward, std::vector<double>* out,
                  std::vector<double>* lse, std::vector<double>* dq, std::vector<double>* dk, std::vector<double>* dv) {
  const cpu::AttentionShape shape{.batch = p.batch, .heads = p.heads, .kv_heads = p.kv_heads, .q_tokens = p.seq,
                                  .kv_tokens = p.seq, .head_dim = p.head_dim};
  const Mask full_mask = p.AttentionMask();
  const cpu::MaskSpec mask{.causal = p.causal, .general = full_mask.IsPlain() ? nullptr : &full_mask};
  auto d = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  const std::vector<double> q = d(in.q), k = d(in.k), v = d(in.v), dout = d(in.dout);
  out->resize(shape.QElements());
  lse->resize(shape.LseElements());
  cpu::ReferenceForward(shape, mask, q.data(), k.data(), v.data(), out->data(), lse->data());
  if (!backward) return;
  dq->resize(shape.QElements());
  dk->resize(shape.KvElements());
  dv->resize(shape.KvElements());
  cpu::ReferenceBackward(shape, mask, q.data(), k.data(), v.data(), out->data(), lse->data(), dout.data(), dq->data(),
                         dk->data(), dv->data());
}

// Who runs: one rank of a launcher's job (*multi), or this process driving o->common.world local GPUs. Resolves the
// world size into o->common.world, the forward config of each method into *configs, the devices into *launch, and
// counts the visible GPUs (*visible, *why when none) without requiring them: CheckGpus does, once every flag and
// output has been checked.
Status PlanLaunch(RunOptions* o, gpu::Launch* launch, bool* multi, std::vector<ScheduleConfig>* configs, int* visible,
                  std::string* why) {
  launch->timeout_s = o->timeout;
  launch->nccl_id_file = o->nccl_id_file;
  if (o->common.pass != "forward" && o->common.pass != "backward" && o->common.pass != "both")
    return Status::InvalidArgument("--pass '" + o->common.pass + "' is not one of forward, backward, both");
  RINGLAB_RETURN_IF_ERROR(gpu::LaunchFromEnvironment(launch, multi));
  *visible = gpu::VisibleGpuCount(why);
  if (*multi) {
    if (o->gpus > 1) return Status::InvalidArgument("--gpus: a launcher started this process as one rank");
    o->common.world = launch->world;
  } else {
    if (o->gpus > 0) o->common.world = o->gpus;
    else if (o->world_flag->count() == 0) o->common.world = std::min(std::max(*visible, 1), o->common.world);
  }
  CommonOptions common = o->common;
  common.pass = "forward";  // the request's `backward` adds the backward
  RINGLAB_RETURN_IF_ERROR(MakeConfigs(common, configs));
  if (*multi) return Status::Ok();
  launch->world = o->common.world;
  launch->rank_offset = 0;
  launch->devices.clear();
  for (int i = 0; i < launch->world; ++i) launch->devices.push_back(i);
  return Status::Ok();
}

// Unavailable (exit 3) when this process cannot see the GPUs its launch needs.
Status CheckGpus(const gpu::Launch& launch, bool multi, int visible, const std::string& why) {
  const std::string because = why.empty() ? "" : " (" + why + ")";
  if (multi) {
    if (visible <= launch.devices[0])
      return Status::Unavailable("rank " + std::to_string(launch.rank_offset) + " needs GPU " +
                                 std::to_string(launch.devices[0]) + " (LOCAL_RANK) but " + std::to_string(visible) +
                                 " are visible" + because);
    return Status::Ok();
  }
  const int w = launch.world;
  if (visible < w)
    return Status::Unavailable("asked for " + std::to_string(w) + " GPU" + (w > 1 ? "s" : "") + " but " +
                               std::to_string(visible) + " " + (visible == 1 ? "is" : "are") + " visible" + because);
  return Status::Ok();
}

// What every configuration's report needs besides its own results.
struct RunContext {
  const RunOptions& o;
  const Problem& p;
  const gpu::InputSource& inputs;
  bool backward;
  bool multi;
  bool cpu_ref;          // --verify also compares with the CPU float64 reference (small problems)
  bool several_configs;  // --method both: file names get the method
  int world;
  OutputBatch* outputs;  // traces, tensors and JSON of the whole run, committed together at the end
  std::vector<std::string>* made_dirs;  // --out folders this run created (removed again when nothing is committed)
};

// Prints the timings of one configuration and returns its JSON record.
nlohmann::json ReportTimings(const RunContext& c, const ScheduleConfig& cfg, const gpu::RunResult& res) {
  const RunOptions& o = c.o;
  const Problem& p = c.p;
  const int w = c.world;
  const bool backward = c.backward;
  const std::string method(MethodName(cfg.method));
  const double fwd_flops = p.ForwardFlops();
  const double fwd_tf = fwd_flops / (res.fwd_ms * 1e-3) / 1e12 / w;
  const double fb_tf = backward ? 3.5 * fwd_flops / (res.fwdbwd_ms * 1e-3) / 1e12 / w : 0;
  const RunSummary fsum = Summarize(res.fwd_trace);
  int64_t max_buf = 0, max_used = 0;
  for (size_t r = 0; r < res.buffer_bytes.size(); ++r) {
    max_buf = std::max(max_buf, res.buffer_bytes[r]);
    max_used = std::max(max_used, res.device_used_bytes[r]);
  }
  std::fprintf(human_text, "-- %s %s on %s\n", method.c_str(), std::string(ShardingName(cfg.sharding)).c_str(),
               res.gpu_name.c_str());
  std::fprintf(
      human_text,
      "  forward          %10.3f ms  %7.1f TFLOP/s per GPU   (slowest rank's median of %d, after %d warm-up)\n",
      res.fwd_ms, fwd_tf, o.iters, res.warmup_done[0]);
  if (backward) std::fprintf(human_text, "  forward+backward %10.3f ms  %7.1f TFLOP/s per GPU\n", res.fwdbwd_ms, fb_tf);
  std::fprintf(human_text,
               "  per GPU: %.2f GiB schedule buffers, %.2f GiB device memory in use (context and NCCL included)\n",
               max_buf / 1073741824.0, max_used / 1073741824.0);
  std::fprintf(human_text, "  forward timeline: step %.3f ms, exposed comm %.3f ms, overlap %.0f%%, imbalance %.3f\n",
               fsum.step_time_us / 1e3, fsum.exposed_comm_us / 1e3, 100 * fsum.overlap_fraction, fsum.load_imbalance);
  nlohmann::json rec{{"kind", "ringlab_run"}, {"method", method}, {"sharding", std::string(ShardingName(cfg.sharding))},
                     {"world", w}, {"B", p.batch}, {"H", p.heads}, {"Hkv", p.kv_heads}, {"S", p.seq},
                     {"D", p.head_dim}, {"causal", p.causal}, {"mask", DescribeMask(p.causal, p.mask)}, {"gpu", res.gpu_name}, {"fwd_ms", res.fwd_ms},
                     {"fwd_tflops_per_gpu", fwd_tf}, {"rank_fwd_ms", res.rank_fwd_ms},
                     {"buffer_bytes_per_rank", res.buffer_bytes}, {"device_used_bytes_per_rank", res.device_used_bytes},
                     {"iters", o.iters}, {"warmup", o.warmup}, {"warmup_ms", o.warmup_ms},
                     {"start_order", o.stream_order ? "streams" : "listed"},
                     {"warmup_done", {res.warmup_done[0], res.warmup_done[1]}},
                     {"fwd_iteration_ms", res.fwd_iteration_ms}, {"fwd_traced_iteration", res.fwd_traced},
                     {"multi_process", c.multi},
                     {"fwd_summary", ToJson(fsum)}};
  if (backward) {
    rec["fwdbwd_ms"] = res.fwdbwd_ms;
    rec["fwdbwd_tflops_per_gpu"] = fb_tf;
    rec["rank_fwdbwd_ms"] = res.rank_fwdbwd_ms;
    rec["fwdbwd_iteration_ms"] = res.fwdbwd_iteration_ms;
    rec["bwd_traced_iteration"] = res.bwd_traced;
    rec["bwd_summary"] = ToJson(Summarize(res.bwd_trace));
  }
  return rec;
}

// --single: the one-GPU time of the W=1 schedule and the scaling efficiency T1 / (W * TW).
void ReportScaling(const RunContext& c, const gpu::RunResult& res, const gpu::RunResult& single, nlohmann::json* rec) {
  const int w = c.world;
  const double eff_f = single.fwd_ms / (w * res.fwd_ms);
  std::fprintf(human_text, "  one GPU (W=1 schedule, same kernels): forward %.3f ms", single.fwd_ms);
  (*rec)["single_fwd_ms"] = single.fwd_ms;
  (*rec)["scaling_efficiency_fwd"] = eff_f;
  if (c.backward) {
    const double eff_b = single.fwdbwd_ms / (w * res.fwdbwd_ms);
    std::fprintf(human_text, ", forward+backward %.3f ms; scaling efficiency T1/(W*TW) %.2f fwd, %.2f fwd+bwd\n",
                 single.fwdbwd_ms, eff_f, eff_b);
    (*rec)["single_fwdbwd_ms"] = single.fwdbwd_ms;
    (*rec)["scaling_efficiency_fwdbwd"] = eff_b;
  } else {
    std::fprintf(human_text, "; scaling efficiency T1/(W*TW) %.2f\n", eff_f);
  }
}

// --verify: the outputs against the W=1 schedule on one GPU and, for small problems, the CPU float64 reference.
// Prints the table, adds it to *rec and returns whether every tensor is within its tolerance.
bool Verify(const RunContext& c, const gpu::RunResult& res, const gpu::RunResult& single, nlohmann::json* rec) {
  const bool backward = c.backward;
  std::vector<Check> checks;
  const gpu::Outputs& a = res.outputs;
  const gpu::Outputs& b = single.outputs;
  auto add = [&](const std::string& against, const std::string& name, double rel, double tol) {
    checks.push_back({against, name, rel, tol});
  };
  add("1 GPU", "out", gpu::RelativeError(a.out, b.out), kOutTol);
  add("1 GPU", "lse", gpu::RelativeError(a.lse, b.lse), kOutTol);
  if (backward)
    for (auto [n, x, y] : {std::tuple{"dq", &a.dq, &b.dq}, {"dk", &a.dk, &b.dk}, {"dv", &a.dv, &b.dv}})
      add("1 GPU", n, gpu::RelativeError(*x, *y), kGradTol);
  if (c.cpu_ref) {
    std::vector<double> out, lse, dq, dk, dv;
    CpuReference(c.p, c.inputs, backward, &out, &lse, &dq, &dk, &dv);
    add("CPU fp64", "out", gpu::RelativeError(a.out, out), kOutTol);
    add("CPU fp64", "lse", gpu::RelativeError(a.lse, lse), kOutTol);
    if (backward) {
      add("CPU fp64", "dq", gpu::RelativeError(a.dq, dq), kGradTol);
      add("CPU fp64", "dk", gpu::RelativeError(a.dk, dk), kGradTol);
      add("CPU fp64", "dv", gpu::RelativeError(a.dv, dv), kGradTol);
    }
  }
  bool pass = true;
  nlohmann::json jc = nlohmann::json::array();
  std::fprintf(human_text, "  verify (relative error ||x - ref|| / ||ref||):\n");
  for (const Check& check : checks) {
    const bool ok = check.rel <= check.tol;
    pass &= ok;
    std::fprintf(human_text, "    %-9s %-4s %10.3e  (tol %.0e) %s\n", check.against.c_str(), check.tensor.c_str(),
                 check.rel, check.tol, ok ? "ok" : "FAIL");
    jc.push_back(
        {{"against", check.against}, {"tensor", check.tensor}, {"rel", check.rel}, {"tol", check.tol}, {"ok", ok}});
  }
  std::fprintf(human_text, "  verify: %s\n", pass ? "PASS" : "FAIL");
  (*rec)["verify"] = jc;
  (*rec)["verify_pass"] = pass;
  return pass;
}

// Adds a trace to the run's outputs.
Status AddTrace(const RunContext& c, const Trace& trace, const std::string& path) {
  std::ostream* f = nullptr;
  RINGLAB_RETURN_IF_ERROR(c.outputs->Open(path, &f));
  WriteTraceJson(trace, *f);
  return Status::Ok();
}

// --trace: the median iteration's timelines and, with --trace-iterations, every timed iteration's.
Status WriteTraces(const RunContext& c, const std::string& method, const gpu::RunResult& res) {
  const RunOptions& o = c.o;
  const bool backward = c.backward;
  std::string path = c.several_configs ? WithSuffix(o.trace_path, "." + method) : o.trace_path;
  RINGLAB_RETURN_IF_ERROR(AddTrace(c, res.fwd_trace, path));
  std::fprintf(human_text, "  trace %s (timed iteration %d of %d: the median one)\n", path.c_str(), res.fwd_traced + 1,
               o.iters);
  if (backward) {
    const std::string bpath = WithSuffix(path, ".backward");
    RINGLAB_RETURN_IF_ERROR(AddTrace(c, res.bwd_trace, bpath));
    std::fprintf(human_text, "  trace %s (timed iteration %d of %d)\n", bpath.c_str(), res.bwd_traced + 1, o.iters);
  }
  if (o.trace_iterations) {  // every timed iteration: <trace>.iter<k>.json, <trace>.backward.iter<k>.json
    for (int pass = 0; pass < (backward ? 2 : 1); ++pass) {
      const std::vector<Trace>& all = pass == 0 ? res.fwd_iterations : res.bwd_iterations;
      const std::string base = pass == 0 ? path : WithSuffix(path, ".backward");
      for (size_t k = 0; k < all.size(); ++k)
        RINGLAB_RETURN_IF_ERROR(AddTrace(c, all[k], WithSuffix(base, ".iter" + std::to_string(k))));
    }
    std::fprintf(human_text, "  traces: %zu per-iteration traces (%s)\n",
                 res.fwd_iterations.size() + res.bwd_iterations.size(), WithSuffix(path, ".iter<k>").c_str());
  }
  return Status::Ok();
}

// --out: inputs and outputs as .npy files, one folder per method when there are several.
Status WriteTensors(const RunContext& c, const std::string& method, const gpu::RunResult& res) {
  const std::string& out_dir = c.o.out_dir;
  const std::string dir = c.several_configs ? out_dir + "/" + method : out_dir;
  RINGLAB_RETURN_IF_ERROR(MakeFolder(out_dir, c.made_dirs));
  if (dir != out_dir) RINGLAB_RETURN_IF_ERROR(MakeFolder(dir, c.made_dirs));
  RINGLAB_RETURN_IF_ERROR(AddTensors(c.outputs, dir, c.p, c.inputs, res.outputs));
  std::fprintf(human_text, "  tensors %s/{q,k,v,do,out,lse%s}.npy (float32)\n", dir.c_str(),
               c.backward ? ",dq,dk,dv" : "");
  return Status::Ok();
}

// Runs one configuration on every rank (and, on the root, the W=1 baseline when asked); the root reports it.
// Returns the exit code: 0, 1 when --verify fails, 2 or 3 for errors.
int RunConfig(const RunContext& c, gpu::GpuExecutor* ex, const ScheduleConfig& cfg, bool first,
              nlohmann::json* records) {
  const RunOptions& o = c.o;
  const bool root = ex->IsRoot();
  gpu::RunRequest req{.config = cfg, .backward = c.backward, .warmup = o.warmup, .iters = o.iters,
                      .warmup_ms = o.warmup_ms, .collect_outputs = o.verify || !o.out_dir.empty(), .poison = o.verify,
                      .listed_start_order = !o.stream_order};
  gpu::RunResult res;
  if (Status st = ex->Run(req, c.inputs, &res); !st.ok()) return ReportError(st);
  const std::string method(MethodName(cfg.method));
  gpu::RunResult single;
  bool have_single = false;
  // The W=1 baseline does not depend on the method: time it once (a few iterations: it is W times longer).
  if (root && (o.verify || (o.single && first))) {
    gpu::RunRequest sreq = req;
    if (!o.verify) {
      sreq.warmup = std::min(o.warmup, 1);
      sreq.warmup_ms = std::min(o.warmup_ms, 50.0);
      sreq.iters = std::min(o.iters, 3);
    }
    if (Status st = ex->RunSingle(sreq, c.inputs, &single); !st.ok()) return ReportError(st);
    have_single = true;
  }
  if (!root) return kExitOk;
  int exit_code = kExitOk;
  nlohmann::json rec = ReportTimings(c, cfg, res);
  if (have_single && o.single) ReportScaling(c, res, single, &rec);
  if (o.verify && !Verify(c, res, single, &rec)) exit_code = kExitCheckFailed;
  if (!o.trace_path.empty())
    if (Status st = WriteTraces(c, method, res); !st.ok()) return ReportError(st);
  if (!o.out_dir.empty())
    if (Status st = WriteTensors(c, method, res); !st.ok()) return ReportError(st);
  records->push_back(rec);
  std::fflush(human_text);
  return exit_code;
}

// --out DIR: an existing folder we can write in, or a new one whose parent we can write in (made at the end).
Status CheckOutFolder(const std::string& dir) {
  if (dir == "-" || IsSpecialOutput(dir))
    return Status::InvalidArgument("--out " + dir + ": a folder for the .npy files (not '-' or a special file)");
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("--out " + dir + ": exists and is not a folder");
    return CheckOutputPath(dir + "/q.npy");
  }
  return CheckOutputPath(dir);  // the parent must take a new entry
}

// Every output stays open until the commit: their count must fit the open-file limit.
Status CheckOpenFiles(const RunOptions& o, size_t configs, bool backward) {
  const int64_t passes = backward ? 2 : 1;
  const int64_t traces = o.trace_path.empty() ? 0 : int64_t(configs) * passes * (1 + (o.trace_iterations ? o.iters : 0));
  const int64_t files = traces + (o.out_dir.empty() ? 0 : int64_t(configs) * 9) + (o.json_path.empty() ? 0 : 1);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return Status::Ok();
  const int64_t spare = int64_t(rl.rlim_cur) - 64;  // NCCL, CUDA and the standard streams hold some
  if (files <= spare) return Status::Ok();
  return Status::InvalidArgument("this run writes " + std::to_string(files) + " files but may open " +
                                 std::to_string(std::max<int64_t>(spare, 0)) +
                                 " more (ulimit -n); use fewer --iters with --trace-iterations, or raise ulimit -n");
}

// No output may land on an input file (--q/--k/--v/--do, a --mask file): outputs are renamed into place at the end,
// so a trace written over q.npy would replace the tensor. Checked on every name the run writes: the trace (and its
// method/pass suffixes; the per-iteration traces hang off those), --json, and --out's .npy files.
Status CheckOutputsAreNotRunInputs(const RunOptions& o, size_t configs, bool backward) {
  std::vector<std::pair<std::string, std::string>> inputs = MaskInputs(o.common.mask);
  for (const auto& [flag, path] : {std::pair<std::string, std::string>{"--q", o.q}, {"--k", o.k}, {"--v", o.v},
                                   {"--do", o.dout}})
    if (!path.empty()) inputs.push_back({flag, path});
  if (inputs.empty()) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> outputs = {{"--json", o.json_path}};
  if (!o.trace_path.empty())
    for (std::string& path : MethodTracePaths(o.trace_path, configs > 1, backward)) outputs.push_back({"--trace", path});
  const std::vector<std::string> dirs =  // WriteTensors: a folder per method when there are several
      configs > 1 ? std::vector<std::string>{o.out_dir + "/allgather", o.out_dir + "/alltoall"}
                  : std::vector<std::string>{o.out_dir};
  if (!o.out_dir.empty())
    for (const std::string& dir : dirs)
      for (const char* name : {"q", "k", "v", "do", "out", "lse", "dq", "dk", "dv"})
        outputs.push_back({"--out", dir + "/" + name + ".npy"});
  return CheckOutputsAreNotInputs(outputs, inputs);
}

// The outputs must be writable before the GPUs start; a flag that becomes several files must take a suffix.
Status CheckRunOutputs(const RunOptions& o, size_t configs, bool backward) {
  if (o.json_path == "-" && o.trace_path == "-")
    return Status::InvalidArgument("--trace - and --json -: only one output can go to stdout");
  RINGLAB_RETURN_IF_ERROR(CheckDistinctOutputs({{"--trace", o.trace_path}, {"--json", o.json_path}}));
  if (o.trace_iterations && o.trace_path.empty())
    return Status::InvalidArgument("--trace-iterations needs --trace FILE (the iterations' traces are named after it)");
  if (!o.trace_path.empty() && (configs > 1 || backward || o.trace_iterations))
    RINGLAB_RETURN_IF_ERROR(CheckSuffixable("--trace", o.trace_path, "one per method, pass and iteration"));
  for (const std::string& path : {o.trace_path, o.json_path})
    if (!path.empty()) RINGLAB_RETURN_IF_ERROR(CheckOutputPath(path));
  if (!o.out_dir.empty()) RINGLAB_RETURN_IF_ERROR(CheckOutFolder(o.out_dir));
  RINGLAB_RETURN_IF_ERROR(CheckOutputsAreNotRunInputs(o, configs, backward));
  return CheckOpenFiles(o, configs, backward);
}

}  // namespace

int RunOnGpus(const RunOptions& options) {
  RunOptions o = options;
  gpu::Launch launch;
  bool multi = false;
  std::vector<ScheduleConfig> configs;
  int visible = 0;
  std::string why;
  // Every flag, input and output first (exit 2), then the GPUs (exit 3): a bad request says so on any machine.
  if (Status st = PlanLaunch(&o, &launch, &multi, &configs, &visible, &why); !st.ok()) return ReportError(st);
  const bool backward = o.common.pass != "forward";
  if (Status st = CheckRunOutputs(o, configs.size(), backward); !st.ok()) return ReportError(st);
  human_text = HumanText({o.trace_path, o.json_path});
  const Problem& p = configs[0].problem;
  gpu::InputSource inputs;
  if (Status st = LoadInputs(o, p, &inputs); !st.ok()) return ReportError(st);
  if (Status st = CheckGpus(launch, multi, visible, why); !st.ok()) return ReportError(st);
  const bool cpu_ref = o.verify && p.ForwardFlops() <= kMaxCpuFlops;
  if ((o.verify && cpu_ref) || !o.out_dir.empty())
    if (!inputs.FromHost()) inputs = gpu::HostRandomInputs(p, o.seed);  // same values the GPU generates

  std::unique_ptr<gpu::GpuExecutor> ex;
  if (Status st = gpu::GpuExecutor::Create(launch, &ex); !st.ok()) return ReportError(st);
  const int w = ex->world();
  if (ex->IsRoot())
    std::fprintf(human_text, "== ringlab run: %s, %d GPU%s (%s)\n", Describe(p).c_str(), w, w > 1 ? "s" : "",
                 multi ? "one process per rank" : "one process, a thread per GPU");
  OutputBatch outputs;
  std::vector<std::string> made_dirs;
  // Folders made for --out go again when the run commits nothing (an error return below): none of its outputs stay.
  struct RemoveFolders {
    std::vector<std::string>* dirs;
    bool keep = false;
    ~RemoveFolders() {
      if (!keep)
        for (auto d = dirs->rbegin(); d != dirs->rend(); ++d) ::rmdir(d->c_str());
    }
  } remove_folders{&made_dirs};
  const RunContext context{.o = o,
                           .p = p,
                           .inputs = inputs,
                           .backward = backward,
                           .multi = multi,
                           .cpu_ref = cpu_ref,
                           .several_configs = configs.size() > 1,
                           .world = w,
                           .outputs = &outputs,
                           .made_dirs = &made_dirs};
  nlohmann::json records = nlohmann::json::array();
  int exit_code = kExitOk;
  {
    std::unique_ptr<Progress> progress;
    if (ex->IsRoot()) progress = std::make_unique<Progress>("run", int64_t(configs.size()), "configurations");
    for (size_t i = 0; i < configs.size(); ++i) {
      const int code = RunConfig(context, ex.get(), configs[i], i == 0, &records);
      if (code != kExitOk && code != kExitCheckFailed) return code;
      exit_code = std::max(exit_code, code);
      if (progress) progress->Update(int64_t(i) + 1);
    }
  }
  if (ex->IsRoot() && !o.json_path.empty())
    if (Status st = outputs.Add(o.json_path, records.dump(1) + "\n"); !st.ok()) return ReportError(st);
  if (Status st = outputs.Commit(); !st.ok()) return ReportError(st);
  remove_folders.keep = true;
  if (ex->IsRoot())
    for (const std::string& path : {o.trace_path, o.json_path})
      if (!path.empty() && path != "-") spdlog::info("wrote {}", path);
  if (ex->IsRoot() && !o.out_dir.empty()) spdlog::info("wrote the tensors into {}", o.out_dir);
  return exit_code;
}

std::shared_ptr<RunOptions> SetupRunOnGpus(CLI::App* cmd) {
  auto opts = std::make_shared<RunOptions>();
  opts->common.kv_heads = 8;
  opts->common.pass = "both";
  AddCommonOptions(cmd, &opts->common);
  cmd->add_option("--gpus", opts->gpus, "local GPUs to drive from this process (default: all visible, up to --world)")
      ->check(IntegerIn(0, std::numeric_limits<int>::max()));
  cmd->add_option("--warmup", opts->warmup, "untimed iterations first")
      ->capture_default_str()
      ->check(IntegerIn(0, 1000000));
  cmd->add_option("--iters", opts->iters, "timed iterations (the median is reported)")
      ->capture_default_str()
      ->check(IntegerIn(1, 1000000));
  cmd->add_option("--warmup-ms", opts->warmup_ms,
                  "keep warming up until this much GPU time has run (clocks and caches settle; 0: --warmup alone)")
      ->capture_default_str()->check(FiniteIn(0.0, 600000.0));
  cmd->add_flag("--trace-iterations", opts->trace_iterations,
                "with --trace: also write every timed iteration's timeline (<trace>.iter<k>.json)");
  cmd->add_flag("--stream-order", opts->stream_order,
                "for comparison: let each stream release its ops as they become ready, so a kernel can take the SMs "
                "before a transfer listed ahead of it (default: the listed order goes first; see gpu_executor.h)");
  cmd->add_option("--seed", opts->seed, "seed of the random inputs (generated on the GPUs)")->capture_default_str()
      ->check(IntegerIn(0, std::numeric_limits<int64_t>::max()));
  cmd->add_option("--q", opts->q, "query tensor .npy [B,H,S,D] (float32/float64/float16, or uint16 raw bf16 bits)");
  cmd->add_option("--k", opts->k, "key tensor .npy [B,Hkv,S,D]");
  cmd->add_option("--v", opts->v, "value tensor .npy [B,Hkv,S,D]");
  cmd->add_option("--do", opts->dout, "output-gradient tensor .npy [B,H,S,D] (default: seeded random)");
  cmd->add_option("--out", opts->out_dir,
                  "write inputs, out, lse (and dq, dk, dv) as float32 .npy files into DIR (one folder per method)");
  cmd->add_flag("--verify", opts->verify,
                "compare with the W=1 schedule on one GPU and, for small problems, the CPU float64 reference");
  cmd->add_flag("--single", opts->single, "also time the W=1 schedule on one GPU (scaling efficiency)");
  cmd->add_option("--trace", opts->trace_path,
                  "write the measured timeline (source: real) to FILE ('-' for stdout); several methods add "
                  ".<method>, the backward pass .backward, iterations .iter<k>, before the extension");
  cmd->add_option("--json", opts->json_path, "write the results as JSON to FILE ('-' for stdout)");
  cmd->add_option("--nccl-id-file", opts->nccl_id_file,
                  "multi-process: exchange the NCCL id through FILE (on a folder every process sees)");
  cmd->add_option("--timeout", opts->timeout, "seconds without progress before every rank aborts")
      ->capture_default_str()
      ->check(FiniteIn(1, 604800));
  opts->world_flag = cmd->get_option("--world");
  return opts;
}

}  // namespace ringlab::cli
