#include "core/trace.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

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
                                .ts_us = 12.25, .dur_us = 3.5, .bytes = 1 << 20, .flops = 0});
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
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].rank, 1);
  EXPECT_EQ(r.events[0].kind, OpKind::kSend);
  EXPECT_EQ(r.events[0].peer, 0);
  EXPECT_EQ(r.events[0].bytes, 1 << 20);
  EXPECT_DOUBLE_EQ(r.events[0].ts_us, 12.25);
  EXPECT_DOUBLE_EQ(r.events[1].flops, 1.5e12);
  EXPECT_EQ(EventName(r.events[0]), "send step 2 -> 0");
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

}  // namespace
}  // namespace ringlab
