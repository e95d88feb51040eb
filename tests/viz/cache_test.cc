// The binary cache beside a trace (viz/loader/cache.h): a second load reads it and gives the same model; a changed
// trace, a damaged cache or a foreign file in its place is ignored (and the JSON parsed again).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>

#include "test_util.h"
#include "viz/loader/cache.h"

namespace ringlab::viz {
namespace {

std::string Fixture(int rank) { return std::string(RINGLAB_VIZ_TEST_DATA) + "/kineto_rank" + std::to_string(rank) + ".json"; }

std::string CopyToTemp(const std::string& from, const std::string& name) {
  const std::string to = testing::TempPath(name);
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(loader::CachePath(to));
  return to;
}

void ExpectSameModel(const TraceModel& a, const TraceModel& b) {
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    const Event &x = a.events[i], &y = b.events[i];
    EXPECT_EQ(x.ts, y.ts);
    EXPECT_EQ(x.dur, y.dur);
    EXPECT_EQ(a.NameOf(x), b.NameOf(y));
    EXPECT_EQ(x.lane, y.lane);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(x.iter, y.iter);
  }
  ASSERT_EQ(a.lanes.size(), b.lanes.size());
  for (size_t i = 0; i < a.lanes.size(); ++i) EXPECT_EQ(a.lanes[i].name, b.lanes[i].name);
  ASSERT_EQ(a.flows.size(), b.flows.size());
  for (size_t i = 0; i < a.flows.size(); ++i) EXPECT_EQ(a.flows[i].from, b.flows[i].from);
  ASSERT_EQ(a.counters.size(), b.counters.size());
  for (size_t i = 0; i < a.counters.size(); ++i) EXPECT_EQ(a.counters[i].value, b.counters[i].value);
  EXPECT_EQ(a.t_min, b.t_min);
  EXPECT_EQ(a.t_max, b.t_max);
}

LoadOptions Cached() {
  LoadOptions o;
  o.use_cache = true;
  o.cache_min_bytes = 0;
  return o;
}

TEST(Cache, SecondLoadReadsTheCacheAndGivesTheSameModel) {
  const std::string r0 = CopyToTemp(Fixture(0), "cache_r0.json"), r1 = CopyToTemp(Fixture(1), "cache_r1.json");
  TraceModel plain, first, second;
  ASSERT_TRUE(LoadTraceFiles({r0, r1}, &plain).ok());
  EXPECT_FALSE(std::filesystem::exists(loader::CachePath(r0)));  // not asked for: none written
  ASSERT_TRUE(LoadTraceFiles({r0, r1}, &first, Cached()).ok());
  ASSERT_TRUE(std::filesystem::exists(loader::CachePath(r0)));
  ASSERT_TRUE(std::filesystem::exists(loader::CachePath(r1)));
  loader::FileEvents fe;
  loader::Interner names;
  ASSERT_TRUE(loader::ReadCache(r1, &fe, &names));
  EXPECT_TRUE(fe.info.has_rank);
  EXPECT_EQ(fe.dist_rank, 1);
  ASSERT_TRUE(LoadTraceFiles({r0, r1}, &second, Cached()).ok());
  ExpectSameModel(plain, first);
  ExpectSameModel(plain, second);
}

TEST(Cache, RingLabTraceKeepsItsMetadata) {
  const std::string src = testing::TempPath("cache_ringlab.json");
  Trace t = testing::HandTrace();
  t.meta.config.problem = DefaultProblem();
  t.meta.hardware = "h100";
  ASSERT_TRUE(WriteTraceJson(t, src).ok());
  std::filesystem::remove(loader::CachePath(src));
  TraceModel plain, cached;
  Status s = LoadTraceFiles({src}, &plain);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(LoadTraceFiles({src}, &cached, Cached()).ok());
  ASSERT_TRUE(LoadTraceFiles({src}, &cached, Cached()).ok());  // from the cache
  ExpectSameModel(plain, cached);
  ASSERT_EQ(cached.files.size(), 1u);
  EXPECT_TRUE(cached.files[0].ringlab);
  EXPECT_EQ(cached.files[0].meta.source, "sim");
  EXPECT_EQ(cached.files[0].meta.hardware, "h100");
  ASSERT_NE(cached.Config(), nullptr);
  EXPECT_EQ(cached.Config()->world, 2);
  EXPECT_EQ(cached.op_index, plain.op_index);
}

TEST(Cache, ChangedTraceOrDamagedCacheIsIgnored) {
  const std::string r0 = CopyToTemp(Fixture(0), "cache_stale.json");
  TraceModel m;
  ASSERT_TRUE(LoadTraceFiles({r0}, &m, Cached()).ok());
  const size_t events = m.events.size();
  // The trace changes (one event more; another size and time): the old cache must not be used.
  {
    std::ifstream in(r0);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    const std::string key = "\"traceEvents\": [";
    const size_t p = text.find(key);
    ASSERT_NE(p, std::string::npos);
    text.insert(p + key.size(), R"({"ph":"X","name":"extra","cat":"kernel","pid":0,"tid":7,"ts":2000,"dur":1},)");
    std::ofstream(r0) << text;
  }
  {
    loader::FileEvents fe;
    loader::Interner names;
    EXPECT_FALSE(loader::ReadCache(r0, &fe, &names));
  }
  ASSERT_TRUE(LoadTraceFiles({r0}, &m, Cached()).ok());
  EXPECT_EQ(m.events.size(), events + 1);
  // A damaged cache (cut short, then garbage): ignored, the JSON is parsed and the cache rewritten.
  for (const std::string& damage : {std::string("cut"), std::string("garbage")}) {
    const std::string cache = loader::CachePath(r0);
    const auto size = std::filesystem::file_size(cache);
    if (damage == "cut") {
      std::filesystem::resize_file(cache, size - 7);
    } else {
      std::ofstream(cache, std::ios::binary) << std::string(size_t(size), '\x5a');
    }
    loader::FileEvents fe;
    loader::Interner names;
    EXPECT_FALSE(loader::ReadCache(r0, &fe, &names)) << damage;
    EXPECT_TRUE(fe.events.empty()) << damage;
    ASSERT_TRUE(LoadTraceFiles({r0}, &m, Cached()).ok()) << damage;
    EXPECT_EQ(m.events.size(), events + 1) << damage;
    EXPECT_TRUE(loader::ReadCache(r0, &fe, &names)) << damage;  // rewritten
  }
}

// A fifo where the cache goes (planted, or left by another tool) is not a cache: the load neither blocks on it nor
// fails, and the JSON is parsed as if there were none.
TEST(Cache, AFifoInTheCachesPlaceIsIgnoredWithoutBlocking) {
  const std::string r0 = CopyToTemp(Fixture(0), "cache_fifo.json");
  const std::string cache = loader::CachePath(r0);
  ASSERT_EQ(mkfifo(cache.c_str(), 0600), 0);
  TraceModel plain, m;
  ASSERT_TRUE(LoadTraceFiles({r0}, &plain).ok());
  auto load = std::async(std::launch::async, [&] { return LoadTraceFiles({r0}, &m, Cached()).ok(); });
  if (load.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    const int fd = open(cache.c_str(), O_WRONLY | O_NONBLOCK);  // release the blocked reader, then fail
    if (fd >= 0) close(fd);
    load.wait();
    FAIL() << "the load blocked on a fifo in the cache's place";
  }
  EXPECT_TRUE(load.get());
  ExpectSameModel(plain, m);
  std::filesystem::remove(cache);
}

// A cache of another format version is a miss (version 2 marks the parser's stricter checks: a cache written before
// them must not let a trace they refuse skip them).
TEST(Cache, ACacheOfAnotherFormatVersionIsIgnored) {
  const std::string r0 = CopyToTemp(Fixture(0), "cache_version.json");
  TraceModel m;
  ASSERT_TRUE(LoadTraceFiles({r0}, &m, Cached()).ok());
  loader::FileEvents fe;
  loader::Interner names;
  ASSERT_TRUE(loader::ReadCache(r0, &fe, &names));
  {
    std::fstream f(loader::CachePath(r0), std::ios::in | std::ios::out | std::ios::binary);
    const uint32_t version = 1;  // the format before the stricter checks; the field follows the 8-byte magic
    f.seekp(8);
    f.write(reinterpret_cast<const char*>(&version), sizeof version);
  }
  fe = loader::FileEvents();
  EXPECT_FALSE(loader::ReadCache(r0, &fe, &names));
}

}  // namespace
}  // namespace ringlab::viz
