// ringlab.schedule: a schedule's ops as columns (numpy arrays and lists) for a pandas frame, one row per op of every
// rank, with the same names as `ringlab schedule --json` (core/config_json.cc).
#include <string>
#include <vector>

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "core/schedule.h"
#include "python/src/binding.h"

namespace ringlab::python {
namespace {

// Kind names in OpKind order: a kind's column holds its code, the frame makes it a categorical.
std::vector<std::string> OpKindNames() {
  std::vector<std::string> names;
  for (int k = 0; k <= int(OpKind::kAllToAll); ++k) names.emplace_back(OpKindName(OpKind(k)));
  return names;
}

std::string JoinBuffers(const SmallList<BufferRef, kMaxOpBuffers>& list) {
  std::string s;
  for (const BufferRef& b : list) s += (s.empty() ? "" : ",") + BufferRefName(b);
  return s;
}

struct OpColumns {
  std::vector<int32_t> rank, id, step, peer, tag, group, kv_origin;
  std::vector<uint8_t> kind, stream;
  std::vector<int64_t> bytes, q_begin, q_end, kv_begin, kv_end, diagonal_offset;
  std::vector<double> flops;
  std::vector<bool> causal, merge;
  std::vector<std::string> reads, writes, deps;

  void Add(int r, const Op& op) {
    rank.push_back(r), id.push_back(op.id), step.push_back(op.step), peer.push_back(op.peer);
    tag.push_back(op.tag), group.push_back(op.group), kind.push_back(uint8_t(op.kind));
    stream.push_back(uint8_t(op.stream)), bytes.push_back(op.bytes), flops.push_back(op.flops);
    const AttendBlock& b = op.attend;
    const bool block = op.kind == OpKind::kAttend || op.kind == OpKind::kMerge;
    q_begin.push_back(block ? b.q_begin : -1), q_end.push_back(block ? b.q_end : -1);
    kv_origin.push_back(block ? b.kv_origin : -1), kv_begin.push_back(block ? b.kv_begin : -1);
    kv_end.push_back(block ? b.kv_end : -1), diagonal_offset.push_back(block ? b.diagonal_offset : 0);
    causal.push_back(block && b.causal), merge.push_back(block && b.merge);
    reads.push_back(JoinBuffers(op.reads)), writes.push_back(JoinBuffers(op.writes));
    std::string d;
    for (int32_t dep : op.deps) d += (d.empty() ? "" : ",") + std::to_string(dep);
    deps.push_back(std::move(d));
  }
};

nb::object BoolColumn(const std::vector<bool>& v) { return NumpyColumn(std::vector<uint8_t>(v.begin(), v.end())); }

nb::dict ScheduleColumns(const ScheduleConfig& cfg, const std::vector<int>& ranks) {
  OpColumns c;
  {
    nb::gil_scoped_release release;
    ThrowIfError(ValidateConfig(cfg));
    for (int r : ranks) {
      if (r < 0 || r >= cfg.world)
        ThrowIfError(Status::InvalidArgument("ranks: " + std::to_string(r) + " is not a rank in 0.." +
                                             std::to_string(cfg.world - 1)));
    }
    std::vector<int> all;
    if (ranks.empty())
      for (int r = 0; r < cfg.world; ++r) all.push_back(r);
    for (int r : ranks.empty() ? all : ranks) {
      const RankSchedule rs = BuildRankSchedule(cfg, r);
      for (const Op& op : rs.ops) c.Add(r, op);
    }
  }
  nb::dict d;
  d["rank"] = NumpyColumn(std::move(c.rank)), d["id"] = NumpyColumn(std::move(c.id));
  d["kind"] = NumpyColumn(std::move(c.kind)), d["stream"] = NumpyColumn(std::move(c.stream));
  d["step"] = NumpyColumn(std::move(c.step)), d["peer"] = NumpyColumn(std::move(c.peer));
  d["tag"] = NumpyColumn(std::move(c.tag)), d["group"] = NumpyColumn(std::move(c.group));
  d["bytes"] = NumpyColumn(std::move(c.bytes)), d["flops"] = NumpyColumn(std::move(c.flops));
  d["q_begin"] = NumpyColumn(std::move(c.q_begin)), d["q_end"] = NumpyColumn(std::move(c.q_end));
  d["kv_origin"] = NumpyColumn(std::move(c.kv_origin)), d["kv_begin"] = NumpyColumn(std::move(c.kv_begin));
  d["kv_end"] = NumpyColumn(std::move(c.kv_end)), d["diagonal_offset"] = NumpyColumn(std::move(c.diagonal_offset));
  d["causal"] = BoolColumn(c.causal), d["merge"] = BoolColumn(c.merge);
  d["reads"] = nb::cast(c.reads), d["writes"] = nb::cast(c.writes), d["deps"] = nb::cast(c.deps);
  return d;
}

}  // namespace

void BindSchedule(nb::module_& m) {
  m.def("op_kind_names", &OpKindNames, "Op kind names in code order (the `kind` column's categories).");
  m.def("schedule_columns", &ScheduleColumns, nb::arg("config"), nb::arg("ranks") = std::vector<int>{},
        "Generates the schedule of `config` (ranks: these ranks only; empty: all) and returns its ops as columns "
        "(numpy arrays; `kind` and `stream` as codes, buffers and deps as comma-separated text). Releases the GIL "
        "while generating.");
}

}  // namespace ringlab::python
