// core/input_file.h: a fifo is read whether its writer opens it before or after the reader, and a fifo that no writer
// opens is refused after a bounded wait (open() used to block on it for ever: `mkfifo f; ringlab sim --profile f`).
#include "core/input_file.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <thread>

namespace ringlab {
namespace {

std::string FreshFifo(const std::string& name) {
  const std::string path = ::testing::TempDir() + "ringlab_input_file_" + name;
  ::unlink(path.c_str());
  EXPECT_EQ(::mkfifo(path.c_str(), 0600), 0) << path;
  return path;
}

// ReadInputFile(path) in a thread, given 20 s: were it to block (the old open() without a writer), the test opens
// and closes the fifo's write end so that the reader returns, and fails instead of hanging.
Status ReadBounded(const std::string& path, int wait_ms, std::string* text) {
  auto read = std::async(std::launch::async, [&] { return ReadInputFile(path, kMaxInputFileBytes, text, wait_ms); });
  if (read.wait_for(std::chrono::seconds(20)) == std::future_status::timeout) {
    ADD_FAILURE() << "ReadInputFile(" << path << ") still blocked after 20 s";
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK);  // a reader is there, so this opens
    if (fd >= 0) ::close(fd);
  }
  return read.get();
}

TEST(ReadInputFile, FifoWithoutWriterIsRefusedAfterTheWait) {
  const std::string fifo = FreshFifo("no_writer");
  std::string text;
  const auto start = std::chrono::steady_clock::now();
  const Status st = ReadBounded(fifo, /*wait_ms=*/100, &text);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::unlink(fifo.c_str());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("is a fifo with no writer"), std::string::npos) << st.message();
  EXPECT_LT(seconds, 10.0);
}

TEST(ReadInputFile, FifoWhoseWriterOpensAfterTheReaderIsRead) {
  const std::string fifo = FreshFifo("late_writer");
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the reader is already waiting
    std::ofstream(fifo) << "late text";
  });
  std::string text;
  const Status st = ReadBounded(fifo, /*wait_ms=*/5000, &text);
  writer.join();
  ::unlink(fifo.c_str());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(text, "late text");
}

TEST(ReadInputFile, FifoWriterThatWritesSlowlyIsReadToTheEnd) {
  const std::string fifo = FreshFifo("slow_writer");
  std::thread writer([&] {
    std::ofstream f(fifo);
    f << "first " << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // longer than the wait: it is for the open only
    f << "second";
  });
  std::string text;
  const Status st = ReadBounded(fifo, /*wait_ms=*/100, &text);
  writer.join();
  ::unlink(fifo.c_str());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(text, "first second");
}

TEST(ReadInputFile, FifoWhoseWriterWritesNothingIsEmpty) {
  const std::string fifo = FreshFifo("empty_writer");
  std::thread writer([&] { std::ofstream f(fifo); });
  std::string text = "stale";
  const Status st = ReadBounded(fifo, /*wait_ms=*/5000, &text);
  writer.join();
  ::unlink(fifo.c_str());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(text, "");
}

TEST(ReadInputFile, RegularFileIsReadWhole) {
  const std::string path = ::testing::TempDir() + "ringlab_input_file_regular.txt";
  std::ofstream(path) << std::string(100000, 'x');
  std::string text;
  ASSERT_TRUE(ReadInputFile(path, kMaxInputFileBytes, &text).ok());
  EXPECT_EQ(text.size(), 100000u);
  EXPECT_FALSE(ReadInputFile(path, /*max_bytes=*/1000, &text).ok());
  ::unlink(path.c_str());
}

// InputStream: the same checks when opened, then the file as a stream (what ReadTraceJson and ReadChakraFile parse).
std::string ReadStream(InputStream& in) { return std::string(std::istreambuf_iterator<char>(in), {}); }

TEST(InputStream, RegularFileIsStreamedWhole) {
  const std::string path = ::testing::TempDir() + "ringlab_input_stream_regular.txt";
  std::string want;
  for (int i = 0; i < 50000; ++i) want += std::to_string(i) + ",";  // several of the stream's 64 KiB reads
  std::ofstream(path) << want;
  InputStream in;
  ASSERT_TRUE(in.Open(path).ok());
  EXPECT_EQ(ReadStream(in), want);
  EXPECT_TRUE(in.status().ok());
  ::unlink(path.c_str());
}

TEST(InputStream, DirectoryAndDeviceAreRefused) {
  InputStream in;
  Status st = in.Open(::testing::TempDir());
  EXPECT_NE(st.message().find("is a directory (allowed: a regular file or a fifo)"), std::string::npos)
      << st.message();
  st = in.Open("/dev/zero");  // an ifstream read it without end
  EXPECT_NE(st.message().find("is not a regular file"), std::string::npos) << st.message();
  EXPECT_NE(in.Open(::testing::TempDir() + "ringlab_input_stream_missing").message().find("cannot read"),
            std::string::npos);
}

TEST(InputStream, FifoWithoutWriterIsRefusedAfterTheWait) {
  const std::string fifo = FreshFifo("stream_no_writer");
  InputStream in;
  auto open = std::async(std::launch::async, [&] { return in.Open(fifo, /*fifo_writer_wait_ms=*/100); });
  if (open.wait_for(std::chrono::seconds(20)) == std::future_status::timeout) {
    ADD_FAILURE() << "InputStream::Open(" << fifo << ") still blocked after 20 s";
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  const Status st = open.get();
  ::unlink(fifo.c_str());
  EXPECT_NE(st.message().find("is a fifo with no writer"), std::string::npos) << st.message();
}

// The bytes read while waiting for the writer come first, then the rest as the writer sends them.
TEST(InputStream, FifoIsStreamedFromItsFirstBytes) {
  const std::string fifo = FreshFifo("stream_writer");
  std::thread writer([&] {
    std::ofstream f(fifo);
    f << "first " << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    f << "second";
  });
  InputStream in;
  const Status st = in.Open(fifo, /*fifo_writer_wait_ms=*/5000);
  const std::string text = st.ok() ? ReadStream(in) : "";
  writer.join();
  ::unlink(fifo.c_str());
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(text, "first second");
}

}  // namespace
}  // namespace ringlab
