#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "test_util.h"
#include "viz/model.h"
#include "viz/synth.h"

namespace ringlab::viz {
namespace {

Status Load(const std::string& json, TraceModel* m = nullptr) {
  TraceModel tmp;
  return LoadTraceBuffer(json, "t.json", m ? m : &tmp);
}

// A trace big enough (> 8 MB) that the loader parses it in pieces on several threads: lanes first seen in the second
// half, names first seen late, an event spread over lines, and the result must be that of a sequential parse.
std::string BigTrace(int n, const std::string& late_bad = "") {
  std::string s = "{\"traceEvents\":[\n";
  for (int i = 0; i < n; ++i) {
    const int pid = i < n / 2 ? i % 3 : i % 5, tid = i % 2;
    if (i == n * 3 / 4 && !late_bad.empty()) {
      s += late_bad + ",\n";
      continue;
    }
    if (i == n / 2 + 7) s += "  \n";  // blank line at a boundary
    s += "{\"ph\":\"X\",\"pid\":" + std::to_string(pid) + ",\"tid\":" + std::to_string(tid) +
         ",\"name\":\"op " + std::to_string(i % (i < n / 2 ? 7 : 11)) + "\",\"cat\":\"kernel\",\"ts\":" +
         std::to_string(i) + ".5,\"dur\":0.25,\"args\":{\"op\":" + std::to_string(i) +
         ",\"note\":\"padding padding padding padding padding padding padding padding\"}}";
    if (i == n / 3) s += "\n";  // an element followed by a line of its own comma
    s += i + 1 < n ? ",\n" : "\n";
  }
  return s + "]}\n";
}

TEST(Loader, BigTraceParsedInPiecesMatchesOneByOne) {
  const int n = 60000;
  const std::string json = BigTrace(n);
  ASSERT_GT(json.size(), size_t(9) << 20);
  TraceModel m;
  Status s = Load(json, &m);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(m.events.size(), size_t(n));
  EXPECT_EQ(m.lanes.size(), 10u);  // pids 0..4 x tids 0..1, pids 3 and 4 only in the second half
  EXPECT_EQ(m.names.size(), 11u);
  // Names are numbered in order of first appearance, as a sequential parse does: "op 0".."op 6", then "op 7".."op 10".
  for (int k = 0; k < 11; ++k) EXPECT_EQ(m.names[size_t(k)], "op " + std::to_string(k));
  std::vector<int> seen(size_t(n), 0);
  for (const Lane& l : m.lanes)
    for (uint32_t i = l.begin; i < l.end; ++i) {
      const Event& e = m.events[i];
      const int id = int(e.ts);
      ASSERT_GE(id, 0);
      ASSERT_LT(id, n);
      ++seen[size_t(id)];
      EXPECT_EQ(l.pid, id < n / 2 ? id % 3 : id % 5);
      EXPECT_EQ(l.tid, id % 2);
      EXPECT_EQ(m.names[e.name], "op " + std::to_string(id % (id < n / 2 ? 7 : 11)));
      EXPECT_EQ(e.op, id);
    }
  for (int k = 0; k < n; ++k) ASSERT_EQ(seen[size_t(k)], 1) << k;
}

TEST(Loader, BigTraceErrorLateInTheFileNamesTheRightEvent) {
  const int n = 60000;
  TraceModel m;
  Status s = Load(BigTrace(n, "{\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":\"late\"}"), &m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("traceEvents[" + std::to_string(n * 3 / 4) + "].ts must be a number"), std::string::npos)
      << s.message();
  // Metadata and B/E pairs in the second half (which a piece leaves to the sequential parser) load as usual.
  s = Load(BigTrace(n, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":4,\"tid\":1,\"args\":{\"name\":\"late\"}}"), &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.events.size(), size_t(n - 1));
  bool named = false;
  for (const Lane& l : m.lanes) named |= l.name.find("late") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(Loader, ReadsWhatCoreWritesEventForEvent) {
  Trace t;
  ASSERT_TRUE(SynthTrace({.problem = DefaultProblem(), .world = 4}, {}, &t).ok());
  const std::string path = testing::TempPath("roundtrip.json");
  ASSERT_TRUE(WriteTraceJson(t, path).ok());
  TraceModel m;
  Status s = LoadTraceFiles({path}, &m);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(m.events.size(), t.events.size());
  ASSERT_EQ(m.files.size(), 1u);
  EXPECT_TRUE(m.files[0].ringlab);
  EXPECT_EQ(m.files[0].meta.source, "sim");
  ASSERT_NE(m.Config(), nullptr);
  EXPECT_EQ(m.Config()->world, 4);
  EXPECT_EQ(m.lanes.size(), 8u);
  for (const TraceEvent& e : t.events) {
    int64_t i = m.FindOp(e.rank, e.op);
    ASSERT_GE(i, 0);
    const Event& x = m.events[size_t(i)];
    EXPECT_EQ(int(x.kind), int(e.kind));
    // The writer rounds an op's start and end to whole nanoseconds (dur = end - start).
    EXPECT_NEAR(x.ts, e.ts_us, 0.5e-3 + 1e-9);
    EXPECT_NEAR(x.dur, e.dur_us, 1e-3 + 1e-9);
    EXPECT_EQ(x.bytes, e.bytes);
    EXPECT_DOUBLE_EQ(x.flops, e.flops);
    EXPECT_EQ(x.step, e.step);
    EXPECT_EQ(x.peer, e.peer);
    EXPECT_EQ(m.NameOf(x), EventName(e));
  }
}

TEST(Loader, ReadsGzippedFiles) {
  Trace t = testing::HandTrace();
  const std::string json_path = testing::TempPath("hand.json"), gz_path = testing::TempPath("hand.json.gz");
  ASSERT_TRUE(WriteTraceJson(t, json_path).ok());
  std::ifstream in(json_path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  gzFile g = gzopen(gz_path.c_str(), "wb");
  gzwrite(g, text.data(), unsigned(text.size()));
  gzclose(g);
  TraceModel m;
  Status s = LoadTraceFiles({gz_path}, &m);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.events.size(), 6u);
  // A truncated gzip file is an error, not a crash.
  std::ifstream gin(gz_path, std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(gin)), {});
  std::ofstream(testing::TempPath("cut.json.gz"), std::ios::binary) << gz.substr(0, gz.size() / 2);
  s = LoadTraceFiles({testing::TempPath("cut.json.gz")}, &m);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("gzip"), std::string::npos) << s.message();
}

TEST(Loader, ReadsPyTorchStyleChromeTracesOneFilePerRank) {
  // Shapes seen in PyTorch profiler exports: numeric pid, string tid, cpu_op + kernel events, distributedInfo,
  // escapes in names, flow and instant events to skip.
  const std::string r0 = R"({"schemaVersion":1,"distributedInfo":{"backend":"nccl","rank":1,"world_size":2},
  "traceEvents":[
   {"ph":"M","name":"process_name","pid":0,"args":{"name":"GPU 0"}},
   {"ph":"M","name":"thread_name","pid":0,"tid":"stream 7","args":{"name":"stream 7"}},
   {"ph":"X","cat":"cpu_op","name":"aten::mm","pid":4242,"tid":4242,"ts":100.5,"dur":50,"args":{"External id":3}},
   {"ph":"X","cat":"kernel","name":"ampere_bf16_gemm \"tn\"","pid":0,"tid":"stream 7","ts":120,"dur":30},
   {"ph":"X","cat":"kernel","name":"ncclDevKernel_AllGather_RING_LL","pid":0,"tid":"stream 9","ts":130,"dur":40},
   {"ph":"X","cat":"gpu_memcpy","name":"Memcpy DtoD","pid":0,"tid":"stream 7","ts":155,"dur":2},
   {"ph":"f","id":1,"pid":0,"tid":"stream 7","ts":120},
   {"ph":"i","name":"mark","pid":0,"tid":1,"ts":1,"s":"t"},
   {"ph":"B","name":"step","pid":4242,"tid":4242,"ts":90},
   {"ph":"E","pid":4242,"tid":4242,"ts":200}
  ]})";
  const std::string r1 = R"([{"ph":"X","cat":"kernel","name":"k","pid":0,"tid":7,"ts":10,"dur":5}, )";  // array form
  const std::string p0 = testing::TempPath("rank1.json"), p1 = testing::TempPath("other.json");
  std::ofstream(p0) << r0;
  std::ofstream(p1) << r1;
  TraceModel m;
  // File 0 says rank 1; file 1 (no distributedInfo) is placed by its position, #1: both hold rank 1, so they cannot
  // be one run's files. The load is refused, naming both, unless each is drawn as a run of its own.
  Status s = LoadTraceFiles({p0, p1}, &m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("both hold rank 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--separate-runs"), std::string::npos) << s.message();
  LoadOptions separate;
  separate.separate_runs = true;
  s = LoadTraceFiles({p0, p1}, &m, separate);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(m.events.size(), 6u);  // 4 X + 1 B/E pair from file 0, 1 from file 1
  EXPECT_EQ(m.ranks, (std::vector<int>{1, 3}));  // run 2's ranks follow run 1's highest (1)
  int kernels = 0, comm = 0, copies = 0, host = 0;
  for (const Event& e : m.events) {
    kernels += e.kind == VizKind::kKernel;
    comm += e.kind == VizKind::kAllGather;
    copies += e.kind == VizKind::kCopy;
    host += e.kind == VizKind::kHost;
  }
  EXPECT_EQ(kernels, 2);
  EXPECT_EQ(comm, 1);
  EXPECT_EQ(copies, 1);
  EXPECT_EQ(host, 2);
  EXPECT_FALSE(SearchByName(m, "gemm \"tn\"").empty());
  bool named = false;
  for (const Lane& l : m.lanes) named |= l.name == "run 1 r1 GPU 0 / stream 7";
  EXPECT_TRUE(named);
  // The B/E pair became a 110 us event, and aten::mm nests under it.
  auto step = SearchByName(m, "step");
  ASSERT_EQ(step.size(), 1u);
  EXPECT_DOUBLE_EQ(m.events[step[0]].dur, 110);
  auto mm = SearchByName(m, "aten::mm");
  EXPECT_EQ(m.events[mm[0]].depth, 1);
}

struct BadCase {
  const char* name;
  std::string json;
  const char* message_part;
};

class LoaderErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(LoaderErrors, GiveAClearMessage) {
  Status s = Load(GetParam().json);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(GetParam().message_part), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("t.json"), std::string::npos) << s.message();
}

const std::string kGood = R"({"traceEvents":[{"ph":"X","pid":0,"tid":0,"name":"a","cat":"attend","ts":1,"dur":2}]})";

// A version 2 ringlab trace of two ranks up to its traceEvents array's '['.
const std::string kRinglabW2 =
    R"({"ringlab":{"version":2,"source":"sim","world":2,"problem":{"batch":1,"heads":8,"kv_heads":8,"seq":1024,)"
    R"("head_dim":64,"dtype":"bf16","causal":true},"method":"alltoall","sharding":"head-tail","pass":"forward"},)"
    R"("traceEvents":[)";

INSTANTIATE_TEST_SUITE_P(
    Bad, LoaderErrors,
    ::testing::Values(
        BadCase{"empty", "", "empty"}, BadCase{"not_json", "hello world", "not a JSON trace"},
        BadCase{"truncated", kGood.substr(0, kGood.size() / 2), "truncated"},
        BadCase{"truncated_in_string", R"({"traceEvents":[{"ph":"X)", "truncated"},
        BadCase{"ts_string", R"({"traceEvents":[{"ph":"X","pid":0,"tid":0,"ts":"abc","dur":1}]})",
                "traceEvents[0].ts must be a number"},
        BadCase{"events_not_array", R"({"traceEvents":{"a":1}})", "traceEvents must be an array"},
        BadCase{"event_not_object", R"({"traceEvents":[1,2]})", "traceEvents[0]"},
        BadCase{"huge_ts", R"({"traceEvents":[{"ph":"X","pid":0,"tid":0,"ts":1e999,"dur":1}]})", "out of range"},
        BadCase{"huge_pid", R"({"traceEvents":[{"ph":"X","pid":1e300,"tid":0,"ts":1,"dur":1}]})",
                "traceEvents[0].pid"},
        BadCase{"negative_dur", R"({"traceEvents":[{"ph":"X","pid":0,"tid":0,"ts":1,"dur":-5}]})", "negative"},
        BadCase{"fraction_op", R"({"traceEvents":[{"ph":"X","pid":0,"ts":1,"dur":1,"args":{"op":1.5}}]})",
                "args.op must be an integer"},
        BadCase{"name_number", R"({"traceEvents":[{"ph":"X","name":7,"pid":0,"ts":1}]})", "name must be a string"},
        BadCase{"missing_events", R"({"displayTimeUnit":"ns"})", "traceEvents is missing"},
        BadCase{"trailing", kGood + "xyz", "after the top-level object"},
        BadCase{"deep", R"({"traceEvents":[{"ph":"X","args":{"x":)" + std::string(5000, '[') + "]}}]}",
                "nesting deeper"},
        BadCase{"ringlab_bad_version",
                R"({"ringlab":{"version":99,"source":"sim"},"traceEvents":[]})", "ringlab.version 99"},
        BadCase{"ringlab_pid_out_of_world",
                R"({"ringlab":{"version":1,"source":"sim","world":2,"problem":{"batch":1,"heads":8,"kv_heads":8,
                   "seq":1024,"head_dim":64,"dtype":"bf16","causal":true},"method":"alltoall","sharding":"head-tail",
                   "pass":"forward"},"traceEvents":[{"ph":"X","pid":5,"tid":0,"cat":"attend","ts":0,"dur":1}]})",
                "pid 5"},
        BadCase{"bad_escape", R"({"traceEvents":[{"ph":"X","name":"a\q"}]})", "bad escape"},
        // Metadata read whole or refused: world 4294967298 used to read as 2, a non-boolean variant aborted the viewer.
        BadCase{"ringlab_world_wraps",
                R"({"ringlab":{"version":2,"source":"sim","world":4294967298,"problem":{"batch":1,"heads":8,
                   "kv_heads":8,"seq":1024,"head_dim":64,"dtype":"bf16","causal":true},"method":"alltoall",
                   "sharding":"head-tail","pass":"forward"},"traceEvents":[{"ph":"X","pid":1,"tid":1,"cat":"attend",
                   "ts":0,"dur":1}]})",
                "config.world"},
        BadCase{"ringlab_variant_not_bool",
                R"({"ringlab":{"version":2,"source":"sim","world":2,"problem":{"batch":1,"heads":8,"kv_heads":8,
                   "seq":1024,"head_dim":64,"dtype":"bf16","causal":true},"method":"alltoall","sharding":"head-tail",
                   "pass":"forward","variants":{"fused_merge":"yes"}},"traceEvents":[]})",
                "config.variants.fused_merge"},
        // Every lane and counter of a ringlab trace is a rank and track: flows and counters used to escape the pid
        // check (pid 4294967296 drawn as rank 0, pid 77 as a rank of its own), any tid was drawn as the comm stream.
        BadCase{"ringlab_flow_pid_wraps", kRinglabW2 + R"({"ph":"X","pid":0,"tid":1,"cat":"attend","ts":0,"dur":5},
                   {"ph":"s","id":1,"pid":4294967296,"tid":1,"ts":1}]})", "pid 4294967296"},
        BadCase{"ringlab_flow_pid_out_of_world", kRinglabW2 + R"({"ph":"X","pid":0,"tid":1,"cat":"attend","ts":0,
                   "dur":5},{"ph":"f","bp":"e","id":1,"pid":77,"tid":1,"ts":1}]})", "pid 77"},
        BadCase{"ringlab_counter_pid_out_of_world", kRinglabW2 + R"({"ph":"C","name":"mem","pid":-1,"ts":1,
                   "args":{"value":5}}]})", "counter 'mem' has pid -1"},
        BadCase{"ringlab_tid_not_a_track", kRinglabW2 + R"({"ph":"X","pid":1,"tid":7,"cat":"send","ts":0,"dur":1}]})",
                "tid 7, not a track in 1..4"},
        BadCase{"ringlab_v2_tid_0", kRinglabW2 + R"({"ph":"X","pid":1,"tid":0,"cat":"attend","ts":0,"dur":1}]})",
                "tid 0"},
        BadCase{"ringlab_op_twice", kRinglabW2 + R"({"ph":"X","pid":1,"tid":1,"cat":"attend","ts":0,"dur":1,
                   "args":{"op":3}},{"ph":"X","pid":1,"tid":1,"cat":"attend","ts":5,"dur":1,"args":{"op":3}}]})",
                "op 3 of rank 1 appears twice"},
        BadCase{"ringlab_version_fraction", R"({"ringlab":{"version":2.5,"source":"sim"},"traceEvents":[]})",
                "ringlab.version must be an integer"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

TEST(Loader, MissingFileIsAnError) {
  TraceModel m;
  Status s = LoadTraceFiles({"/nonexistent/trace.json"}, &m);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot open"), std::string::npos);
}

// String pids and tids may hold any int64, INT64_MIN too: such a lane is a lane like any other (it used to match the
// lane lookup's initial "no lane yet" key, so the first event got lane 0 before any lane existed: a crash alone, or
// merged into the next file lane).
TEST(Loader, Int64MinStringIdsAreALaneOfTheirOwn) {
  const std::string min = "\"-9223372036854775808\"";
  TraceModel m;
  ASSERT_TRUE(Load(R"({"traceEvents":[{"ph":"X","name":"a","pid":)" + min + ",\"tid\":" + min +
                   R"(,"ts":0,"dur":1}]})", &m).ok());
  ASSERT_EQ(m.lanes.size(), 1u);
  EXPECT_EQ(m.lanes[0].pid, INT64_MIN);
  EXPECT_EQ(m.lanes[0].end - m.lanes[0].begin, 1u);
  ASSERT_TRUE(Load(R"({"traceEvents":[{"ph":"X","name":"a","pid":)" + min + ",\"tid\":" + min +
                   R"(,"ts":0,"dur":1},{"ph":"X","name":"b","pid":0,"tid":0,"ts":0,"dur":1}]})", &m).ok());
  ASSERT_EQ(m.lanes.size(), 2u);
  for (const Lane& l : m.lanes) EXPECT_EQ(l.end - l.begin, 1u) << l.name;
}

TEST(Loader, ErrorsNameTheLine) {
  Status s = Load("{\n\"traceEvents\":[\n{\"ph\":\"X\",\"ts\":true}]}");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("line 3"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ringlab::viz
