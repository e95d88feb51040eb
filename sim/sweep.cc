#include "sim/sweep.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/config_json.h"

namespace ringlab::sim {
namespace {

struct Job {
  int world;
  int64_t seq;
  Method method;
  SweepPass pass;
};

const char* SweepPassName(SweepPass p) {
  return p == SweepPass::kForward ? "forward" : p == SweepPass::kBackward ? "backward" : "both";
}

SweepRow RunJob(const SweepSpec& spec, const HardwareProfile& hw, const Job& job) {
  const auto t0 = std::chrono::steady_clock::now();
  SweepRow row{.world = job.world, .seq = job.seq, .method = std::string(MethodName(job.method)),
               .pass = SweepPassName(job.pass)};
  std::vector<Pass> passes;
  if (job.pass != SweepPass::kBackward) passes.push_back(Pass::kForward);
  if (job.pass != SweepPass::kForward) passes.push_back(Pass::kBackward);
  SimOptions opt = spec.options;
  opt.trace = TraceMode::kNone;
  double flops = 0;
  ExtrapolationTally tally;
  TransferTally transfers;
  row.profile = hw.name;
  row.memory_capacity_gib = hw.memory_gib;
  for (Pass pass : passes) {
    ScheduleConfig cfg = spec.base;
    cfg.world = job.world;
    cfg.problem.seq = job.seq;
    cfg.method = job.method;
    cfg.pass = pass;
    Status st = spec.mask_for_seq ? spec.mask_for_seq(job.seq, &cfg.problem.mask) : Status::Ok();
    row.config = ringlab::ToJson(cfg);
    SimResult res;
    if (st.ok()) st = Simulate(cfg, hw, opt, &res);
    if (!st.ok()) {
      row.error = st.message();
      return row;
    }
    row.topology = res.topology;
    row.over_capacity = row.over_capacity || res.OverCapacity();
    tally.Merge(res.extrapolation);
    transfers.Merge(res.transfers);
    const RunSummary& s = res.summary;
    row.step_ms += s.step_time_us / 1e3;
    row.compute_ms += s.max_compute_us / 1e3;
    row.exposed_ms += s.exposed_comm_us / 1e3;
    row.overlap_fraction = s.overlap_fraction;  // of the last pass
    row.load_imbalance = std::max(row.load_imbalance, s.load_imbalance);
    row.peak_memory_gib = std::max(row.peak_memory_gib, double(s.peak_memory_bytes) / (1 << 30));
    row.ops += res.stats.ops;
    flops += s.total_flops;
  }
  row.tflops_per_gpu = row.step_ms > 0 ? flops / (row.step_ms * 1e-3) / job.world / 1e12 : 0;
  row.mfu = row.tflops_per_gpu / hw.peak_tflops;
  row.extrapolated_share = tally.Share();
  row.transfer_extrapolated_share = transfers.Share();
  for (int i = 1; i < kExtrapolationKinds; ++i)
    if (tally.extrapolated_ps[i] > 0)
      row.extrapolated_dims += (row.extrapolated_dims.empty() ? "" : "+") + std::string(ExtrapolationKey(Extrapolation(i)));
  row.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return row;
}

}  // namespace

Status RunSweep(const SweepSpec& spec, const HardwareProfile& hw, const std::function<void(int, int)>& progress,
                std::vector<SweepRow>* rows) {
  if (spec.shard_count < 1 || spec.shard_index < 0 || spec.shard_index >= spec.shard_count)
    return Status::InvalidArgument("--shard must be i/n with 0 <= i < n");
  if (spec.worlds.empty() || spec.seqs.empty() || spec.methods.empty() || spec.passes.empty())
    return Status::InvalidArgument("a sweep needs at least one world, seq, method and pass");
  std::vector<Job> jobs;
  int index = 0;
  for (int w : spec.worlds)
    for (int64_t s : spec.seqs)
      for (Method m : spec.methods)
        for (SweepPass p : spec.passes) {
          if (index++ % spec.shard_count == spec.shard_index) jobs.push_back(Job{w, s, m, p});
        }
  rows->assign(jobs.size(), SweepRow{});
  std::atomic<size_t> next{0};
  std::mutex mu;
  int done = 0;
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      (*rows)[i] = RunJob(spec, hw, jobs[i]);
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (progress) progress(done, int(jobs.size()));
    }
  };
  const int n = std::max(1, std::min<int>(spec.workers, int(jobs.size())));
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  return Status::Ok();
}

namespace {

// The configuration as flat (column, value) pairs: the config JSON's leaves, "problem." dropped ("variants.pack_kv").
void Flatten(const nlohmann::json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>* out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = prefix + it.key();
    if (it->is_object()) {
      Flatten(*it, key == "problem" ? "" : key + ".", out);
    } else if (key != "world" && key != "seq" && key != "method" && key != "pass") {  // the row's own columns
      out->emplace_back(key, it->is_string() ? it->get<std::string>() : it->dump());
    }
  }
}

std::string CsvField(std::string s) {
  for (char& c : s)
    if (c == '"') c = '\'';
  return s.find_first_of(",\n") == std::string::npos ? s : '"' + s + '"';
}

}  // namespace

std::string SweepCsv(const std::vector<SweepRow>& rows) {
  std::ostringstream o;
  // Configuration columns from the first row that has one (every row shares the keys).
  std::vector<std::pair<std::string, std::string>> keys;
  for (const SweepRow& r : rows)
    if (!r.config.is_null()) {
      Flatten(r.config, "", &keys);
      break;
    }
  o << "world,seq,method,pass,step_ms,compute_ms,exposed_comm_ms,overlap_fraction,tflops_per_gpu,mfu,"
       "load_imbalance,peak_memory_gib,memory_capacity_gib,over_capacity,extrapolated_share,extrapolated_dims,"
       "transfer_extrapolated_share,ops,profile,topology";
  for (const auto& [k, v] : keys) o << "," << k;
  o << ",error\n";
  char buf[512];
  for (const SweepRow& r : rows) {
    snprintf(buf, sizeof buf, "%d,%lld,%s,%s,%.6f,%.6f,%.6f,%.6f,%.3f,%.6f,%.6f,%.4f,%.1f,%d,%.4f,%s,%.4f,%lld,",
             r.world, (long long)r.seq, r.method.c_str(), r.pass.c_str(), r.step_ms, r.compute_ms, r.exposed_ms,
             r.overlap_fraction, r.tflops_per_gpu, r.mfu, r.load_imbalance, r.peak_memory_gib, r.memory_capacity_gib,
             int(r.over_capacity), r.extrapolated_share, r.extrapolated_dims.c_str(), r.transfer_extrapolated_share,
             (long long)r.ops);
    o << buf << CsvField(r.profile) << "," << CsvField(r.topology);
    std::vector<std::pair<std::string, std::string>> values;
    if (!r.config.is_null()) Flatten(r.config, "", &values);
    for (size_t i = 0; i < keys.size(); ++i) o << "," << (i < values.size() ? CsvField(values[i].second) : "");
    o << ",";
    std::string e = r.error;
    for (char& c : e)
      if (c == '"') c = '\'';
    if (!e.empty()) o << '"' << e << '"';
    o << "\n";
  }
  return o.str();
}

nlohmann::json SweepJson(const std::vector<SweepRow>& rows) {
  nlohmann::json a = nlohmann::json::array();
  for (const SweepRow& r : rows) {
    nlohmann::json j{{"world", r.world},
                     {"seq", r.seq},
                     {"method", r.method},
                     {"pass", r.pass},
                     {"step_ms", r.step_ms},
                     {"compute_ms", r.compute_ms},
                     {"exposed_comm_ms", r.exposed_ms},
                     {"overlap_fraction", r.overlap_fraction},
                     {"tflops_per_gpu", r.tflops_per_gpu},
                     {"mfu", r.mfu},
                     {"load_imbalance", r.load_imbalance},
                     {"peak_memory_gib", r.peak_memory_gib},
                     {"memory_capacity_gib", r.memory_capacity_gib},
                     {"over_capacity", r.over_capacity},
                     {"extrapolated_share", r.extrapolated_share},
                     {"extrapolated_dims", r.extrapolated_dims},
                     {"transfer_extrapolated_share", r.transfer_extrapolated_share},
                     {"ops", r.ops},
                     {"profile", r.profile},
                     {"topology", r.topology},
                     {"config", r.config}};
    if (!r.error.empty()) j["error"] = r.error;
    a.push_back(j);
  }
  return a;
}

}  // namespace ringlab::sim
