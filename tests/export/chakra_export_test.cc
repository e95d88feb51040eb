// The Chakra export read back: one file per rank with a node per schedule op, node types and attrs from the op,
// data deps covering the schedule's deps and stream order, durations equal to the simulated trace's, and every send
// matched by a recv on its peer with the same source, destination, tag and size.
#include "export/chakra_export.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <future>
#include <map>
#include <tuple>

#include "chakra_et.pb.h"
#include "sim/simulate.h"

namespace ringlab {
namespace {

struct Exported {
  sim::SimResult sim;
  std::vector<ChakraFile> files;
};

std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void SimulateAndExport(const ScheduleConfig& cfg, const std::string& name, Exported* out) {
  sim::HardwareProfile hw;
  ASSERT_TRUE(sim::LoadProfile("h100_sxm", &hw).ok());
  sim::SimOptions opt;
  opt.trace = sim::TraceMode::kAll;
  Status st = sim::Simulate(cfg, hw, opt, &out->sim);
  ASSERT_TRUE(st.ok()) << st.message();
  const std::string dir = TempDir(name);
  OutputBatch batch;
  st = AddChakraFiles(cfg, out->sim.trace, dir, "cp", &batch);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_TRUE(batch.Commit().ok());
  out->files.resize(size_t(cfg.world));
  for (int r = 0; r < cfg.world; ++r) {
    st = ReadChakraFile(ChakraRankPath(dir, "cp", r), &out->files[size_t(r)]);
    ASSERT_TRUE(st.ok()) << st.message();
  }
}

int ExpectedType(OpKind k) {
  if (k == OpKind::kSend) return ChakraProtoMsg::COMM_SEND_NODE;
  if (k == OpKind::kRecv) return ChakraProtoMsg::COMM_RECV_NODE;
  if (k == OpKind::kAllGather || k == OpKind::kReduceScatter || k == OpKind::kAllToAll)
    return ChakraProtoMsg::COMM_COLL_NODE;
  return ChakraProtoMsg::COMP_NODE;
}

// The op that runs before ops[i] on its stream, skipping the ops posted in one group with it; -1 for none.
int PreviousOnStream(const RankSchedule& rs, size_t i) {
  const Op& op = rs.ops[i];
  for (size_t j = i; j-- > 0;)
    if (rs.ops[j].stream == op.stream && !(op.group >= 0 && rs.ops[j].group == op.group)) return rs.ops[j].id;
  return -1;
}

void CheckAgainstScheduleAndSim(const ScheduleConfig& cfg, const Exported& x) {
  std::map<std::pair<int, int>, const TraceEvent*> event;
  for (const TraceEvent& e : x.sim.trace.events) event[{e.rank, e.op}] = &e;
  std::map<std::tuple<int, int, int>, int64_t> sends, recvs;  // (src, dst, tag) -> bytes
  int64_t comm_nodes = 0;
  for (int r = 0; r < cfg.world; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    const RankSchedule rs = BuildRankSchedule(cfg, r);
    const ChakraFile& f = x.files[size_t(r)];
    EXPECT_EQ(f.version, kChakraSchemaVersion);
    ASSERT_EQ(f.nodes.size(), rs.ops.size());
    for (size_t i = 0; i < rs.ops.size(); ++i) {
      const Op& op = rs.ops[i];
      const ChakraNodeInfo& n = f.nodes[i];
      EXPECT_EQ(n.id, uint64_t(op.id));
      EXPECT_EQ(n.type, ExpectedType(op.kind)) << n.name;
      EXPECT_FALSE(n.is_cpu_op);
      for (int32_t d : op.deps)
        EXPECT_NE(std::find(n.data_deps.begin(), n.data_deps.end(), uint64_t(d)), n.data_deps.end()) << n.name;
      for (uint64_t d : n.data_deps) EXPECT_LT(d, n.id) << "deps point back in schedule order: " << n.name;
      const int prev = PreviousOnStream(rs, i);
      if (prev >= 0)
        EXPECT_NE(std::find(n.data_deps.begin(), n.data_deps.end(), uint64_t(prev)), n.data_deps.end())
            << "stream order: " << n.name << " after op " << prev;
      const TraceEvent& e = *event.at({r, op.id});
      const int64_t start = std::llround(e.ts_us * 1e3), end = std::llround((e.ts_us + e.dur_us) * 1e3);
      EXPECT_EQ(n.start_ns, start);
      EXPECT_EQ(n.duration_ns, end - start);
      EXPECT_EQ(n.duration_micros, uint64_t(std::llround((end - start) / 1e3)));
      EXPECT_EQ(n.name, EventName(e));
      if (n.type == ChakraProtoMsg::COMP_NODE) {
        EXPECT_EQ(n.num_ops, std::llround(op.flops));
        EXPECT_EQ(n.tensor_size, uint64_t(op.bytes));
      } else {
        ++comm_nodes;
        EXPECT_EQ(n.comm_size, op.bytes);
      }
      if (op.kind == OpKind::kSend) {
        EXPECT_EQ(n.comm_src, r);
        sends[{n.comm_src, n.comm_dst, n.comm_tag}] = n.comm_size;
      }
      if (op.kind == OpKind::kRecv) {
        EXPECT_EQ(n.comm_dst, r);
        recvs[{n.comm_src, n.comm_dst, n.comm_tag}] = n.comm_size;
      }
      if (op.kind == OpKind::kAllToAll) EXPECT_EQ(n.comm_type, ChakraProtoMsg::ALL_TO_ALL);
      if (op.kind == OpKind::kAllGather) EXPECT_EQ(n.comm_type, ChakraProtoMsg::ALL_GATHER);
      if (op.kind == OpKind::kReduceScatter) EXPECT_EQ(n.comm_type, ChakraProtoMsg::REDUCE_SCATTER);
    }
  }
  EXPECT_GT(comm_nodes, 0);
  EXPECT_EQ(sends, recvs) << "every send has its recv on the peer, with the same size";
}

ScheduleConfig Config(int world, Method m, Pass p, int ulysses) {
  ScheduleConfig cfg;
  cfg.problem = Problem{.batch = 1, .heads = 8, .kv_heads = 4, .seq = int64_t(world) * 2 * 512, .head_dim = 128};
  cfg.world = world;
  cfg.method = m;
  cfg.pass = p;
  cfg.ulysses = ulysses;
  return cfg;
}

// Simulates `cfg`, exports it, reads it back and checks it; `types` gets the count of nodes of each type.
void ExportAndCheck(const ScheduleConfig& cfg, const std::string& name, std::map<int, int64_t>* types) {
  Exported x;
  ASSERT_NO_FATAL_FAILURE(SimulateAndExport(cfg, name, &x));
  CheckAgainstScheduleAndSim(cfg, x);
  for (const ChakraFile& f : x.files)
    for (const ChakraNodeInfo& n : f.nodes) ++(*types)[n.type];
}

TEST(ChakraExport, RingForwardHasComputeSendsAndRecvs) {
  std::map<int, int64_t> types;
  ExportAndCheck(Config(4, Method::kAllToAll, Pass::kForward, 1), "chakra_ring", &types);
  EXPECT_GT(types[ChakraProtoMsg::COMP_NODE], 0);
  EXPECT_EQ(types[ChakraProtoMsg::COMM_SEND_NODE], 4 * 3);  // W-1 steps per rank
  EXPECT_EQ(types[ChakraProtoMsg::COMM_RECV_NODE], 4 * 3);
}

TEST(ChakraExport, AllGatherBackwardHasCollectives) {
  std::map<int, int64_t> types;
  ExportAndCheck(Config(4, Method::kAllGather, Pass::kBackward, 1), "chakra_allgather", &types);
  EXPECT_GT(types[ChakraProtoMsg::COMM_COLL_NODE], 0);
  EXPECT_EQ(types[ChakraProtoMsg::COMM_SEND_NODE], 0);
}

TEST(ChakraExport, UlyssesHybridHasAllToAllsAndRingMessages) {
  std::map<int, int64_t> types;
  ExportAndCheck(Config(8, Method::kAllToAll, Pass::kForward, 2), "chakra_ulysses", &types);
  EXPECT_GT(types[ChakraProtoMsg::COMM_COLL_NODE], 0);
  EXPECT_GT(types[ChakraProtoMsg::COMM_SEND_NODE], 0);
}

TEST(ChakraExport, TraceWithoutEveryRankIsRefusedAndNothingIsWritten) {
  const ScheduleConfig cfg = Config(4, Method::kAllToAll, Pass::kForward, 1);
  Exported x;
  ASSERT_NO_FATAL_FAILURE(SimulateAndExport(cfg, "chakra_full", &x));
  Trace partial = x.sim.trace;
  std::erase_if(partial.events, [](const TraceEvent& e) { return e.rank == 2; });
  const std::string dir = TempDir("chakra_partial");
  {
    OutputBatch batch;
    Status st = AddChakraFiles(cfg, partial, dir, "cp", &batch);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("rank 2"), std::string::npos) << st.message();
  }  // not committed: the batch removes its temporaries
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(ChakraExport, ReadingATruncatedFileFails) {
  const ScheduleConfig cfg = Config(2, Method::kAllToAll, Pass::kForward, 1);
  Exported x;
  ASSERT_NO_FATAL_FAILURE(SimulateAndExport(cfg, "chakra_trunc", &x));
  const std::string path = ChakraRankPath(::testing::TempDir() + "chakra_trunc", "cp", 0);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  ChakraFile f;
  EXPECT_FALSE(ReadChakraFile(path, &f).ok());
}

// The reader opened its file with an ifstream: /dev/zero read as empty messages without end (memory ran out), and a
// fifo that no writer opened blocked it for ever.
TEST(ChakraExport, ReadingADeviceDirectoryOrFifoWithoutWriterFails) {
  ChakraFile f;
  Status st = ReadChakraFile("/dev/zero", &f);
  EXPECT_NE(st.message().find("cannot open Chakra file '/dev/zero': is not a regular file"), std::string::npos)
      << st.message();
  st = ReadChakraFile(::testing::TempDir(), &f);
  EXPECT_NE(st.message().find("is a directory"), std::string::npos) << st.message();
  const std::string fifo = ::testing::TempDir() + "chakra_no_writer.et";
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto read = std::async(std::launch::async, [&] { return ReadChakraFile(fifo, &f); });
  if (read.wait_for(std::chrono::seconds(20)) == std::future_status::timeout) {
    ADD_FAILURE() << "ReadChakraFile(" << fifo << ") still blocked after 20 s";
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);  // a reader is there, so this opens
    if (fd >= 0) ::close(fd);
  }
  st = read.get();
  ::unlink(fifo.c_str());
  EXPECT_NE(st.message().find("is a fifo with no writer"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace ringlab
