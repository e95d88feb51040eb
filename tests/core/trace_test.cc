#include "core/trace.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/trace_flows.h"

namespace ringlab {
namespace {

std::string TempPath(const std::string& name) { return ::testing::TempDir() + name; }

TEST(Trace, WriteThenReadRoundTripsEveryField) {
  Trace t;
  t.meta.source = "sim";
  t.meta.config = ScheduleConfig{.problem = Problem{.seq = 4096}, .world = 2, .method = Method::kAllGather};
  t.meta.hardware = "H100";
  t.meta.schedule_op_count = 7;
  t.events.push_back(TraceEvent{.rank = 1, .stream = 1, .op = 3, .kind = OpKind::kSend, .step = 2, .peer = 0,
                                .tag = 9, .ts_us = 12.25, .dur_us = 3.5, .bytes = 1 << 20, .flops = 0});
  t.events.push_back(TraceEvent{.rank = 0, .stream = 0, .op = 0, .kind = OpKind::kAttend, .step = 0,
                                .ts_us = 0.125, .dur_us = 100, .bytes = 4096, .flops = 1.5e12});
  const std::string path = TempPath("roundtrip.json");
  ASSERT_TRUE(WriteTraceJson(t, path).ok());
  Trace r;
  Status st = ReadTraceJson(path, &r);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(r.meta.source, "sim");
  EXPECT_EQ(r.meta.hardware, "H100");
  EXPECT_EQ(r.meta.schedule_op_count, 7);
  EXPECT_EQ(r.meta.config.world, 2);
  EXPECT_EQ(r.meta.config.method, Method::kAllGather);
  EXPECT_EQ(r.meta.config.problem.seq, 4096);
  ASSERT_EQ(r.events.size(), 2u);  // written in (rank, track) order
  EXPECT_EQ(r.events[1].rank, 1);
  EXPECT_EQ(r.events[1].stream, 1);
  EXPECT_EQ(r.events[1].kind, OpKind::kSend);
  EXPECT_EQ(r.events[1].peer, 0);
  EXPECT_EQ(r.events[1].tag, 9);
  EXPECT_EQ(r.events[1].bytes, 1 << 20);
  EXPECT_DOUBLE_EQ(r.events[1].ts_us, 12.25);
  EXPECT_DOUBLE_EQ(r.events[1].dur_us, 3.5);
  EXPECT_EQ(r.events[0].stream, 0);
  EXPECT_DOUBLE_EQ(r.events[0].flops, 1.5e12);
  EXPECT_EQ(EventName(r.events[1]), "send step 2 -> 0");
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(Trace, MalformedFilesGiveMessagesNamingTheProblem) {
  const std::string p = TempPath("bad.json");
  Trace t;
  WriteFile(p, "{\"traceEvents\": [");
  EXPECT_NE(ReadTraceJson(p, &t).message().find("not valid JSON"), std::string::npos);
  WriteFile(p, "{\"traceEvents\": []}");
  EXPECT_NE(ReadTraceJson(p, &t).message().find("ringlab metadata"), std::string::npos);
  WriteFile(p, "[1,2]");
  EXPECT_NE(ReadTraceJson(p, &t).message().find("traceEvents"), std::string::npos);
  EXPECT_NE(ReadTraceJson(TempPath("missing.json"), &t).message().find("cannot open"), std::string::npos);
}

TEST(Trace, EventWithWrongTypesIsRejectedWithItsIndex) {
  Trace t;
  t.meta.source = "cpu";
  t.meta.config = ScheduleConfig{.problem = Problem{.seq = 64}, .world = 1};
  t.events.push_back(TraceEvent{.rank = 0, .stream = 0, .op = 0, .ts_us = 1, .dur_us = 2});
  const std::string p = TempPath("types.json");
  ASSERT_TRUE(WriteTraceJson(t, p).ok());
  std::ifstream in(p);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  text.replace(text.rfind("\n]}"), 3, ",\n{\"ph\":\"X\",\"pid\":0,\"tid\":0,\"ts\":\"soon\",\"dur\":1,\"cat\":\"attend\","
                                       "\"args\":{\"op\":0}}\n]}");
  WriteFile(p, text);
  Status st = ReadTraceJson(p, &t);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("traceEvents["), std::string::npos) << st.message();
}


nlohmann::json WrittenEvents(const Trace& t, const std::string& name) {
  const std::string p = TempPath(name);
  EXPECT_TRUE(WriteTraceJson(t, p).ok());
  std::ifstream in(p);
  return nlohmann::json::parse(in)["traceEvents"];
}

Trace RingOfThree() {
  Trace t;
  t.meta.source = "sim";
  t.meta.config = ScheduleConfig{.problem = Problem{.seq = 4096}, .world = 1024};
  // Ranks 0, 1 and 1023 of a ring: 1023 -> 0 -> 1, each send with its recv, grouped (identical intervals).
  for (int r : {0, 1, 1023}) {
    const int next = (r + 1) % 1024, prev = (r + 1023) % 1024;
    t.events.push_back(TraceEvent{.rank = r, .stream = 0, .op = 0, .kind = OpKind::kAttend, .ts_us = 0, .dur_us = 5});
    t.events.push_back(TraceEvent{.rank = r, .stream = 1, .op = 1, .kind = OpKind::kSend, .peer = next, .tag = 7,
                                  .ts_us = 1, .dur_us = 2});
    t.events.push_back(TraceEvent{.rank = r, .stream = 1, .op = 2, .kind = OpKind::kRecv, .peer = prev, .tag = 7,
                                  .ts_us = 1, .dur_us = 2});
  }
  return t;
}

TEST(TraceFormat, MetadataNamesOnlyTheRanksAndTracksWritten) {
  const nlohmann::json evs = WrittenEvents(RingOfThree(), "meta.json");
  std::map<std::string, int> names;
  for (const auto& e : evs)
    if (e["ph"] == "M") {
      ++names[e["name"].get<std::string>()];
      EXPECT_TRUE(e["pid"] == 0 || e["pid"] == 1 || e["pid"] == 1023) << e.dump();
    }
  EXPECT_EQ(names["process_name"], 3);
  EXPECT_EQ(names["thread_name"], 9);  // compute, comm send, comm recv of each rank
}

TEST(TraceFormat, SendAndRecvHaveTracksOfTheirOwnAndAFlowBetweenThem) {
  const nlohmann::json evs = WrittenEvents(RingOfThree(), "flows.json");
  std::map<int64_t, std::vector<nlohmann::json>> flows;
  for (const auto& e : evs) {
    if (e["ph"] == "X" && e["cat"] == "send") EXPECT_EQ(e["tid"], kSendTrack);
    if (e["ph"] == "X" && e["cat"] == "recv") EXPECT_EQ(e["tid"], kRecvTrack);
    if (e["ph"] == "X" && e["cat"] == "attend") EXPECT_EQ(e["tid"], kComputeTrack);
    if (e["ph"] == "s" || e["ph"] == "f") flows[e["id"].get<int64_t>()].push_back(e);
  }
  // Traced messages: 1023 -> 0 and 0 -> 1 (1 -> 2 and 1022 -> 1023 have an untraced end).
  ASSERT_EQ(flows.size(), 2u);
  for (const auto& [id, ends] : flows) {
    ASSERT_EQ(ends.size(), 2u);
    EXPECT_EQ(ends[0]["ph"], "s");
    EXPECT_EQ(ends[0]["tid"], kSendTrack);
    EXPECT_EQ(ends[1]["ph"], "f");
    EXPECT_EQ(ends[1]["bp"], "e");
    EXPECT_EQ(ends[1]["tid"], kRecvTrack);
    EXPECT_EQ(ends[1]["pid"], (ends[0]["pid"].get<int>() + 1) % 1024);
    EXPECT_GE(ends[1]["ts"].get<double>(), ends[0]["ts"].get<double>());
  }
}

TEST(TraceFormat, EndsAreRoundedAndDurationDerivedSoTouchingOpsNeverOverlap) {
  Trace t;
  t.meta.config = ScheduleConfig{.problem = Problem{.seq = 64}, .world = 1};
  // [0.6, 2.2] ns then [2.2, 5] ns. Rounding the ends gives [1, 2] and [2, 5]; rounding ts and dur apart would give
  // ts 1 + dur round(1.6) = 2, ending at 3, past the next op's start.
  t.events.push_back(TraceEvent{.rank = 0, .stream = 0, .op = 0, .ts_us = 0.0006, .dur_us = 0.0016});
  t.events.push_back(TraceEvent{.rank = 0, .stream = 0, .op = 1, .ts_us = 0.0022, .dur_us = 0.0028});
  const nlohmann::json evs = WrittenEvents(t, "rounding.json");
  std::vector<std::pair<int64_t, int64_t>> spans;  // (ts, dur) in ns
  for (const auto& e : evs)
    if (e["ph"] == "X")
      spans.emplace_back(std::llround(e["ts"].get<double>() * 1e3), std::llround(e["dur"].get<double>() * 1e3));
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0], std::make_pair(int64_t(1), int64_t(1)));
  EXPECT_EQ(spans[1], std::make_pair(int64_t(2), int64_t(3)));
}

TEST(TraceFormat, OpsTouchingOnAHalfNanosecondStillTouch) {
  // The simulator's times are whole picoseconds. An op at 66259885.500 ns lasting 625664 ns ends on a half nanosecond
  // where the next starts; ts + dur summed in floating point lands above the half and the next start below it, so
  // rounding each in nanoseconds wrote a 1 ns overlap (seen in a W=1024 trace). Written ends must equal next starts.
  Trace t;
  t.meta.config = ScheduleConfig{.problem = Problem{.seq = 64}, .world = 1};
  const int64_t starts_ps[] = {66259885500, 66885549500, 130638094500, 131461987500};
  for (int i = 0; i < 4; ++i) {
    const int64_t end_ps = i % 2 == 0 ? starts_ps[i + 1] : starts_ps[i] + 1000000;
    t.events.push_back(TraceEvent{.rank = 0, .stream = 1, .op = i, .kind = OpKind::kRecv, .peer = 0, .tag = i,
                                  .ts_us = double(starts_ps[i]) / 1e6,
                                  .dur_us = double(end_ps - starts_ps[i]) / 1e6});
  }
  const nlohmann::json evs = WrittenEvents(t, "half_ns.json");
  std::vector<std::pair<int64_t, int64_t>> spans;  // (start, end) in ns
  for (const auto& e : evs)
    if (e["ph"] == "X") {
      const int64_t ts = std::llround(e["ts"].get<double>() * 1e3);
      spans.emplace_back(ts, ts + std::llround(e["dur"].get<double>() * 1e3));
    }
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0].second, spans[1].first);  // 66259885500 + 625664000 ps = 66885549500 ps
  EXPECT_EQ(spans[2].second, spans[3].first);  // 130638094500 + 823893000 ps = 131461987500 ps
}

TEST(TraceFormat, AllToAllJoinsEveryOrderedPairOfTracedMembers) {
  Trace t;
  t.meta.config = ScheduleConfig{.problem = Problem{.heads = 8, .kv_heads = 4, .seq = 4096}, .world = 4, .ulysses = 4};
  for (int r : {0, 2, 3})
    t.events.push_back(TraceEvent{.rank = r, .stream = 1, .op = 0, .kind = OpKind::kAllToAll, .tag = 0, .ts_us = 1,
                                  .dur_us = 1});
  EXPECT_EQ(MessageFlows(t).size(), 6u);  // 3 members, 3 x 2 ordered pairs
}

TEST(Trace, ReadsVersionOneFilesWithTheirTids) {
  const std::string p = TempPath("v1.json");
  WriteFile(p, R"({"ringlab":{"version":1,"source":"sim","world":2,"problem":{"batch":1,"heads":8,"kv_heads":8,)"
               R"("seq":4096,"head_dim":128,"causal":true,"dtype":"bf16"},"method":"alltoall","sharding":"head-tail",)"
               R"("pass":"forward","variants":{"fused_merge":true,"pack_kv":false}},"traceEvents":[)"
               R"({"ph":"X","pid":0,"tid":0,"ts":1,"dur":2,"cat":"attend","args":{"op":0}},)"
               R"({"ph":"X","pid":1,"tid":1,"ts":1,"dur":2,"cat":"send","args":{"op":1,"peer":0}}]})");
  Trace t;
  Status st = ReadTraceJson(p, &t);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(t.events.size(), 2u);
  EXPECT_EQ(t.events[0].stream, 0);
  EXPECT_EQ(t.events[1].stream, 1);
}

// Metadata numbers are whole and in range or refused: nlohmann's get<int>() read world 4294967298 as 2 and
// version 2.5 as 2, and value("fused_merge", true) threw out of the reader on a non-boolean.
TEST(Trace, MetadataOfTheWrongTypeOrRangeIsRefusedNotNarrowed) {
  const std::string p = TempPath("meta_types.json");
  auto file = [&](const std::string& world, const std::string& heads, const std::string& version,
                  const std::string& fused, const std::string& docs = "") {
    WriteFile(p, R"({"ringlab":{"version":)" + version + R"(,"source":"sim","world":)" + world +
                     R"(,"problem":{"batch":1,"heads":)" + heads + R"(,"kv_heads":8,"seq":4096,"head_dim":128,)" +
                     docs + R"("causal":true,"dtype":"bf16"},"method":"alltoall","sharding":"head-tail",)" +
                     R"("pass":"forward","variants":{"fused_merge":)" + fused + R"(,"pack_kv":false}},)" +
                     R"("traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":1,"dur":2,"cat":"attend","args":{"op":0}}]})");
    Trace t;
    return ReadTraceJson(p, &t);
  };
  ASSERT_TRUE(file("2", "8", "2", "true").ok());
  for (const auto& [st, part] : std::vector<std::pair<Status, std::string>>{
           {file("4294967298", "8", "2", "true"), "config.world"},
           {file("2.5", "8", "2", "true"), "config.world"},
           {file("2", "4294967304", "2", "true"), "problem.heads"},
           {file("2", "true", "2", "true"), "problem.heads"},
           {file("2", "8", "2.5", "true"), "ringlab.version"},
           {file("2", "8", "4294967298", "true"), "ringlab.version"},
           {file("2", "8", "2", "\"yes\""), "config.variants.fused_merge"},
           {file("2", "8", "2", "true", R"("cu_seqlens":[0,4096],"documents_name":5,)"), "problem.documents_name"},
           {file("2", "8", "2", "true", R"("cu_seqlens":[0,1.5e3,4096],)"), "problem.cu_seqlens"}}) {
    EXPECT_FALSE(st.ok()) << part;
    EXPECT_NE(st.message().find(part), std::string::npos) << st.message();
  }
}

// Event fields are whole numbers in their range or the file is refused naming the field: get<int32_t>() read pid
// 4294967297 (or true, or 1.5) as rank 1 and op 4294967296 as op 0, any tid as the comm stream, negative bytes and
// flops went into the summary, and a non-string ph threw json::type_error out of ReadTraceJson.
TEST(Trace, EventFieldsAreReadWholeAndInRangeOrRefused) {
  const std::string p = TempPath("event_types.json");
  auto read = [&](const std::string& event) {
    WriteFile(p, R"({"ringlab":{"version":2,"source":"sim","world":2,"problem":{"batch":1,"heads":8,"kv_heads":8,)"
                 R"("seq":4096,"head_dim":128,"causal":true,"dtype":"bf16"},"method":"alltoall",)"
                 R"("sharding":"head-tail","pass":"forward"},"traceEvents":[)" + event + "]}");
    Trace t;
    return ReadTraceJson(p, &t);
  };
  auto ev = [](const std::string& pid, const std::string& tid, const std::string& args,
               const std::string& ph = "\"X\"") {
    return R"({"ph":)" + ph + R"(,"pid":)" + pid + R"(,"tid":)" + tid +
           R"(,"ts":1,"dur":2,"cat":"send","args":{)" + args + "}}";
  };
  ASSERT_TRUE(read(ev("1", "2", R"("op":3,"peer":0,"bytes":8,"flops":0)")).ok());
  for (const auto& [event, part] : std::vector<std::pair<std::string, std::string>>{
           {ev("4294967297", "2", R"("op":3)"), ".pid 4294967297 is not a rank in 0..1"},
           {ev("true", "2", R"("op":3)"), ".pid true"},
           {ev("1.5", "2", R"("op":3)"), ".pid 1.5"},
           {ev("1", "0", R"("op":3)"), ".tid 0 is not a track in 1..4"},
           {ev("1", "9", R"("op":3)"), ".tid 9"},
           {ev("1", "2", R"("op":4294967296)"), ".args.op 4294967296"},
           {ev("1", "2", R"("op":3,"peer":4294967296)"), ".args.peer"},
           {ev("1", "2", R"("op":3,"bytes":-1)"), ".args.bytes -1"},
           {ev("1", "2", R"("op":3,"flops":-5)"), ".args.flops -5"},
           {ev("1", "2", R"("op":3)", "7"), ".ph must be a string"}}) {
    Status st = Status::Ok();
    EXPECT_NO_THROW(st = read(event)) << event;
    EXPECT_FALSE(st.ok()) << event;
    EXPECT_NE(st.message().find("traceEvents[0]" + part), std::string::npos) << st.message();
  }
}

// Reads `path` with the address space limited to `extra` bytes above what the process maps now: 0 when all
// `events` were read, 1 otherwise (an error or std::bad_alloc). For a child process (EXPECT_EXIT).
int ReadUnderAddressLimit(const std::string& path, rlim_t extra, size_t events) {
  long pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t limit = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + extra;
  const rlimit lim{limit, limit};
  if (setrlimit(RLIMIT_AS, &lim) != 0) return 2;
  try {
    Trace t;
    return ReadTraceJson(path, &t).ok() && t.events.size() == events ? 0 : 1;
  } catch (const std::bad_alloc&) {
    return 1;
  }
}

// (rank, args.op) is an op's identity: an op written twice used to be read twice, doubling its flops in the summary.
TEST(Trace, AnOpWrittenTwiceIsRefused) {
  Trace t = RingOfThree();
  const std::string p = TempPath("dup_op.json");
  ASSERT_TRUE(WriteTraceJson(t, p).ok());
  Trace back;
  ASSERT_TRUE(ReadTraceJson(p, &back).ok());
  t.events.push_back(t.events[4]);  // rank 1's send, op 1, again (later, on its own)
  t.events.back().ts_us += 100;
  ASSERT_TRUE(WriteTraceJson(t, p).ok());
  Status st = ReadTraceJson(p, &back);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("are both op 1 of rank 1"), std::string::npos) << st.message();
}

// The reader keeps events, not a document of the file: parsing into one DOM took about ten times the file (5.6 GB for
// a 530 MB trace, so summarize_trace of a few GB of trace was killed). A 60 MB trace is read in a child whose address
// space is limited to 250 MB above what it already maps; the DOM needed about 500 MB there.
TEST(Trace, ReadsALargeTraceInMemoryBoundedByItsEvents) {
  Trace big;
  big.meta.source = "sim";
  big.meta.config = ScheduleConfig{.problem = Problem{.seq = 4096}, .world = 4};
  constexpr int kEvents = 300000;
  for (int i = 0; i < kEvents; ++i)
    big.events.push_back(TraceEvent{.rank = i % 4, .stream = 0, .op = i / 4, .kind = OpKind::kAttend,
                                    .ts_us = double(i), .dur_us = 0.5, .bytes = 1 << 20, .flops = 1e9});
  const std::string p = TempPath("big_trace.json");
  ASSERT_TRUE(WriteTraceJson(big, p).ok());
  big.events.clear();
  big.events.shrink_to_fit();
  EXPECT_EXIT(std::_Exit(ReadUnderAddressLimit(p, 250 << 20, kEvents)), ::testing::ExitedWithCode(0), "");
  std::remove(p.c_str());
}

// ReadTraceJson(path) in a thread, given 20 s: were it to block (an ifstream's open of a fifo without a writer), the
// test opens and closes the fifo's write end so that the reader returns, and fails instead of hanging.
Status ReadTraceBounded(const std::string& path, Trace* t) {
  auto read = std::async(std::launch::async, [&] { return ReadTraceJson(path, t); });
  if (read.wait_for(std::chrono::seconds(20)) == std::future_status::timeout) {
    ADD_FAILURE() << "ReadTraceJson(" << path << ") still blocked after 20 s";
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  return read.get();
}

std::string FreshFifo(const std::string& name) {
  const std::string path = TempPath(name);
  ::unlink(path.c_str());
  EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << path;
  return path;
}

// The reader opened its file with an ifstream: a directory read as an empty document, /dev/zero as zeros without end,
// and a fifo that no writer opened blocked it for ever.
TEST(Trace, DirectoryDeviceAndFifoWithoutWriterAreRefused) {
  Trace t;
  Status st = ReadTraceJson(::testing::TempDir(), &t);
  EXPECT_NE(st.message().find("cannot open trace file '" + ::testing::TempDir() + "': is a directory"),
            std::string::npos)
      << st.message();
  st = ReadTraceJson("/dev/zero", &t);
  EXPECT_NE(st.message().find("is not a regular file"), std::string::npos) << st.message();
  const std::string fifo = FreshFifo("trace_no_writer.json");
  st = ReadTraceBounded(fifo, &t);
  ::unlink(fifo.c_str());
  EXPECT_NE(st.message().find("is a fifo with no writer"), std::string::npos) << st.message();
}

TEST(Trace, TraceFromAFifoReadsAsFromItsFile) {
  const std::string file = TempPath("fifo_source.json");
  ASSERT_TRUE(WriteTraceJson(RingOfThree(), file).ok());
  Trace want;
  ASSERT_TRUE(ReadTraceJson(file, &want).ok());
  const std::string fifo = FreshFifo("trace_fifo.json");
  std::thread writer([&] { std::ofstream(fifo) << std::ifstream(file).rdbuf(); });
  Trace got;
  const Status st = ReadTraceBounded(fifo, &got);
  writer.join();
  ::unlink(fifo.c_str());
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(got.events.size(), want.events.size());
  for (size_t i = 0; i < got.events.size(); ++i) {
    EXPECT_EQ(got.events[i].op, want.events[i].op);
    EXPECT_EQ(got.events[i].rank, want.events[i].rank);
    EXPECT_DOUBLE_EQ(got.events[i].ts_us, want.events[i].ts_us);
  }
}

}  // namespace
}  // namespace ringlab
