#include "export/chakra_export.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "chakra_et.pb.h"

namespace ringlab {
namespace {

namespace pb = ChakraProtoMsg;

// One length-delimited message: the varint32 byte count, then the bytes.
void WriteDelimited(const google::protobuf::MessageLite& m, std::ostream& out) {
  const std::string bytes = m.SerializeAsString();
  uint32_t n = uint32_t(bytes.size());
  while (n >= 0x80) {
    out.put(char((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.put(char(n));
  out << bytes;
}

pb::AttributeProto* Attr(pb::Node* n, const char* name) {
  pb::AttributeProto* a = n->add_attr();
  a->set_name(name);
  return a;
}

pb::NodeType NodeTypeOf(OpKind k) {
  switch (k) {
    case OpKind::kSend:
      return pb::COMM_SEND_NODE;
    case OpKind::kRecv:
      return pb::COMM_RECV_NODE;
    case OpKind::kAllGather:
    case OpKind::kReduceScatter:
    case OpKind::kAllToAll:
      return pb::COMM_COLL_NODE;
    default:
      return pb::COMP_NODE;
  }
}

pb::CollectiveCommType CollectiveOf(OpKind k) {
  if (k == OpKind::kAllGather) return pb::ALL_GATHER;
  if (k == OpKind::kReduceScatter) return pb::REDUCE_SCATTER;
  return pb::ALL_TO_ALL;
}

// The ops that must finish before ops[i] starts: its schedule deps, and the op before it on its stream (for a
// grouped comm op, the op before its group: the group's ops are posted together).
std::vector<uint64_t> DataDeps(const RankSchedule& rs, size_t i) {
  std::vector<uint64_t> deps(rs.ops[i].deps.begin(), rs.ops[i].deps.end());
  const Op& op = rs.ops[i];
  for (size_t j = i; j-- > 0;) {
    const Op& prev = rs.ops[j];
    if (prev.stream != op.stream) continue;
    if (op.group >= 0 && prev.group == op.group) continue;
    if (std::find(deps.begin(), deps.end(), uint64_t(prev.id)) == deps.end()) deps.push_back(uint64_t(prev.id));
    break;
  }
  return deps;
}

void FillNode(const Op& op, const TraceEvent& ev, const std::vector<uint64_t>& deps, pb::Node* n) {
  n->set_id(uint64_t(op.id));
  n->set_name(EventName(ev));
  n->set_type(NodeTypeOf(op.kind));
  for (uint64_t d : deps) n->add_data_deps(d);
  const int64_t start_ns = std::llround(ev.ts_us * 1e3);
  const int64_t end_ns = std::max(start_ns, int64_t(std::llround((ev.ts_us + ev.dur_us) * 1e3)));
  n->set_start_time_micros(uint64_t(std::max<int64_t>(0, std::llround(start_ns / 1e3))));
  n->set_duration_micros(uint64_t(std::llround((end_ns - start_ns) / 1e3)));
  Attr(n, "start_ns")->set_int64_val(start_ns);
  Attr(n, "duration_ns")->set_int64_val(end_ns - start_ns);
  Attr(n, "is_cpu_op")->set_bool_val(false);
  switch (n->type()) {
    case pb::COMP_NODE:
      Attr(n, "num_ops")->set_int64_val(std::llround(op.flops));
      Attr(n, "tensor_size")->set_uint64_val(uint64_t(op.bytes));
      break;
    case pb::COMM_SEND_NODE:
    case pb::COMM_RECV_NODE:
      Attr(n, "comm_size")->set_int64_val(op.bytes);
      Attr(n, "comm_src")->set_int32_val(op.kind == OpKind::kSend ? ev.rank : op.peer);
      Attr(n, "comm_dst")->set_int32_val(op.kind == OpKind::kSend ? op.peer : ev.rank);
      Attr(n, "comm_tag")->set_int32_val(op.tag);
      break;
    default:
      Attr(n, "comm_type")->set_int64_val(CollectiveOf(op.kind));
      Attr(n, "comm_size")->set_int64_val(op.bytes);
      break;
  }
}

void WriteMetadata(const ScheduleConfig& cfg, const Trace& timed, int rank, std::ostream& out) {
  pb::GlobalMetadata meta;
  meta.set_version(kChakraSchemaVersion);
  auto add = [&](const char* name) {
    pb::AttributeProto* a = meta.add_attr();
    a->set_name(name);
    return a;
  };
  add("producer")->set_string_val("ringlab");
  add("source")->set_string_val(timed.meta.source);
  add("hardware")->set_string_val(timed.meta.hardware);
  add("method")->set_string_val(std::string(MethodName(cfg.method)));
  add("pass")->set_string_val(std::string(PassName(cfg.pass)));
  add("world")->set_int64_val(cfg.world);
  add("ulysses")->set_int64_val(cfg.ulysses);
  add("rank")->set_int64_val(rank);
  WriteDelimited(meta, out);
}

}  // namespace

std::string ChakraRankPath(const std::string& dir, const std::string& prefix, int rank) {
  return dir + "/" + prefix + "." + std::to_string(rank) + ".et";
}

Status AddChakraFiles(const ScheduleConfig& cfg, const Trace& timed, const std::string& dir, const std::string& prefix,
                      OutputBatch* batch) {
  std::vector<std::vector<const TraceEvent*>> by_op(size_t(cfg.world));
  for (const TraceEvent& e : timed.events) {
    if (e.rank < 0 || e.rank >= cfg.world || e.op < 0) continue;
    auto& ops = by_op[size_t(e.rank)];
    if (ops.size() <= size_t(e.op)) ops.resize(size_t(e.op) + 1, nullptr);
    ops[size_t(e.op)] = &e;
  }
  for (int r = 0; r < cfg.world; ++r) {
    const RankSchedule rs = BuildRankSchedule(cfg, r);
    std::ostream* out = nullptr;
    RINGLAB_RETURN_IF_ERROR(batch->Open(ChakraRankPath(dir, prefix, r), &out));
    WriteMetadata(cfg, timed, r, *out);
    const auto& events = by_op[size_t(r)];
    for (size_t i = 0; i < rs.ops.size(); ++i) {
      const Op& op = rs.ops[i];
      if (size_t(op.id) >= events.size() || !events[size_t(op.id)])
        return Status::InvalidArgument("--chakra: rank " + std::to_string(r) + " op " + std::to_string(op.id) +
                                       " has no timed event (the export needs every rank traced)");
      pb::Node node;
      FillNode(op, *events[size_t(op.id)], DataDeps(rs, i), &node);
      WriteDelimited(node, *out);
    }
  }
  return Status::Ok();
}

}  // namespace ringlab
