// ReadChakraFile: parses a length-delimited Chakra execution trace (GlobalMetadata, then Nodes) with the same
// generated classes the export uses, so a test can compare what was written with the schedule and the trace.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include "chakra_et.pb.h"
#include "core/input_file.h"
#include "export/chakra_export.h"

namespace ringlab {
namespace {

namespace pb = ChakraProtoMsg;

ChakraNodeInfo InfoOf(const pb::Node& n) {
  ChakraNodeInfo info;
  info.id = n.id();
  info.name = n.name();
  info.type = int(n.type());
  info.data_deps.assign(n.data_deps().begin(), n.data_deps().end());
  info.ctrl_deps.assign(n.ctrl_deps().begin(), n.ctrl_deps().end());
  info.start_micros = n.start_time_micros();
  info.duration_micros = n.duration_micros();
  for (const pb::AttributeProto& a : n.attr()) {
    const std::string& k = a.name();
    if (k == "start_ns") info.start_ns = a.int64_val();
    if (k == "duration_ns") info.duration_ns = a.int64_val();
    if (k == "comm_type") info.comm_type = a.int64_val();
    if (k == "comm_size") info.comm_size = a.int64_val();
    if (k == "num_ops") info.num_ops = a.int64_val();
    if (k == "tensor_size") info.tensor_size = a.uint64_val();
    if (k == "comm_src") info.comm_src = a.int32_val();
    if (k == "comm_dst") info.comm_dst = a.int32_val();
    if (k == "comm_tag") info.comm_tag = a.int32_val();
    if (k == "is_cpu_op") info.is_cpu_op = a.bool_val();
  }
  return info;
}

}  // namespace

Status ReadChakraFile(const std::string& path, ChakraFile* out) {
  // InputStream, not an ifstream: its open waited for ever on a fifo without a writer, and /dev/zero read as an
  // endless run of empty messages.
  InputStream f;
  if (Status st = f.Open(path); !st.ok())
    return Status::InvalidArgument("cannot open Chakra file '" + path + "': " + st.message());
  google::protobuf::io::IstreamInputStream raw(&f);
  google::protobuf::io::CodedInputStream in(&raw);
  ChakraFile file;
  bool first = true;
  for (uint32_t size = 0; in.ReadVarint32(&size);) {
    const auto limit = in.PushLimit(int(size));
    bool ok = false;
    if (first) {
      pb::GlobalMetadata meta;
      ok = meta.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
      file.version = meta.version();
    } else {
      pb::Node node;
      ok = node.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
      if (ok) file.nodes.push_back(InfoOf(node));
    }
    in.PopLimit(limit);
    if (!ok && !f.status().ok()) break;  // a failed read, said below
    if (!ok)
      return Status::InvalidArgument("Chakra file '" + path + "': message " + std::to_string(file.nodes.size() + 1) +
                                     " does not parse");
    first = false;
  }
  // A failed read ends the stream as its end would.
  if (Status st = f.status(); !st.ok())
    return Status::InvalidArgument("cannot read Chakra file '" + path + "': " + st.message());
  if (first) return Status::InvalidArgument("Chakra file '" + path + "' is empty (no GlobalMetadata)");
  *out = std::move(file);
  return Status::Ok();
}

}  // namespace ringlab
