// Chakra execution-trace export: the op graph of every rank with its simulated (or measured) durations, in the
// protobuf format that ASTRA-sim and SimAI replay (MLCommons Chakra, schema/protobuf/et_def.proto; our subset with
// the same field numbers is chakra_et.proto).
//
// One file per rank, DIR/PREFIX.RANK.et (ASTRA-sim's workload argument is then DIR/PREFIX). Each file is a sequence
// of length-delimited messages (a varint32 byte count, then the message), as Chakra's own reader and writer
// (src/third_party/utils/protolib.py, the feeder's ProtobufStream) frame them: one GlobalMetadata, then one Node per
// op, in schedule order:
//   * node id = the op's id on its rank (args.op in our Chrome traces), name = the trace event's name;
//   * type: attend/merge/copy/prepare COMP_NODE; send COMM_SEND_NODE; recv COMM_RECV_NODE; all-gather,
//     reduce-scatter, all-to-all COMM_COLL_NODE with attr comm_type (ALL_GATHER, REDUCE_SCATTER, ALL_TO_ALL);
//   * data_deps: the op's schedule deps plus the op before it on its stream (before its group, for grouped comm
//     ops, which are posted together), because the feeder issues a node once its data_deps are done and knows no
//     streams; ctrl_deps stay empty;
//   * start_time_micros / duration_micros from the timed trace (whole microseconds, as the schema has them), with
//     the exact nanoseconds in attrs start_ns / duration_ns;
//   * attrs with the names and value types Chakra's feeder reads (src/feeder/et_feeder_node.cpp): is_cpu_op
//     (bool false), num_ops (int64 FLOPs) and tensor_size (uint64 bytes) on compute nodes; comm_size (int64 bytes),
//     comm_src / comm_dst / comm_tag (int32) on sends and recvs; comm_type (int64), comm_size on collectives.
#pragma once

#include <string>
#include <vector>

#include "core/output_file.h"
#include "core/schedule.h"
#include "core/status.h"
#include "core/trace.h"

namespace ringlab {

inline constexpr char kChakraSchemaVersion[] = "0.0.4";  // GlobalMetadata.version, as Chakra's tools write it

// DIR/PREFIX.RANK.et
std::string ChakraRankPath(const std::string& dir, const std::string& prefix, int rank);

// Adds the files of every rank of `cfg`'s schedule to `batch` (the caller commits: all files or none). `timed` is a
// trace of the same config with every op of every rank (a simulation traced in full); an op without its event is an
// InvalidArgument naming the rank and op.
Status AddChakraFiles(const ScheduleConfig& cfg, const Trace& timed, const std::string& dir, const std::string& prefix,
                      OutputBatch* batch);

// What a Chakra file holds, read back (for tests and tools): the metadata version and the nodes in file order.
struct ChakraNodeInfo {
  uint64_t id = 0;
  std::string name;
  int type = 0;  // ChakraProtoMsg::NodeType
  std::vector<uint64_t> data_deps, ctrl_deps;
  uint64_t start_micros = 0, duration_micros = 0;
  int64_t start_ns = -1, duration_ns = -1;
  int64_t comm_type = -1, comm_size = -1, num_ops = -1;
  int32_t comm_src = -1, comm_dst = -1, comm_tag = -1;
  uint64_t tensor_size = 0;
  bool is_cpu_op = true;  // the feeder's default when the attr is absent
};
struct ChakraFile {
  std::string version;
  std::vector<ChakraNodeInfo> nodes;
};
Status ReadChakraFile(const std::string& path, ChakraFile* out);

}  // namespace ringlab
