#include "core/input_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace ringlab {

namespace {

Status CannotRead() { return Status::InvalidArgument(std::string("cannot read: ") + std::strerror(errno)); }

// A fifo opened without O_NONBLOCK blocks in open() until a writer opens it: `mkfifo f; ringlab sim --profile f`
// hung forever. It is opened non-blocking instead, and this waits at most `wait_ms` for a writer to show itself, so
// that a writer started beside the reader (a shell's `cat x > f &`, a test's thread) still works. A non-blocking
// read tells: data (a writer wrote), EAGAIN (a writer is there, nothing written yet) or 0, which on Linux means no
// writer now. poll() then wakes on the first data or on a writer that came and went (POLLHUP is held back until a
// writer was seen). `*first` gets what was read; *eof is set when the writer already closed.
Status AwaitFifoWriter(int fd, int wait_ms, std::string* first, bool* eof) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  char buffer[1 << 12];
  bool polled_event = false;
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      first->assign(buffer, size_t(n));
      return Status::Ok();
    }
    if (n < 0 && errno == EAGAIN) return Status::Ok();  // a writer holds it open
    if (n < 0 && errno != EINTR) return CannotRead();
    if (n == 0 && polled_event) {  // a writer opened and closed it without writing: an empty file
      *eof = true;
      return Status::Ok();
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return Status::InvalidArgument("is a fifo with no writer (waited " + std::to_string(wait_ms) +
                                     " ms; start the writer first, or give a regular file)");
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int r = ::poll(&p, 1, int(left.count()));
    if (r < 0 && errno != EINTR) return CannotRead();
    polled_event = r > 0;
  }
}

// "(allowed: a regular file or a fifo of at most 256 MiB)"; no size for a stream (max_bytes < 0).
std::string Allowed(int64_t max_bytes) {
  return max_bytes < 0 ? " (allowed: a regular file or a fifo)"
                       : " (allowed: a regular file or a fifo of at most " + std::to_string(max_bytes >> 20) + " MiB)";
}

Status TooLarge(int64_t max_bytes) {
  return Status::InvalidArgument("is larger than " + std::to_string(max_bytes >> 20) + " MiB" + Allowed(max_bytes));
}

// What ReadInputFile and InputStream check before reading: `path` is a regular file (of at most `max_bytes` when
// max_bytes >= 0) or a fifo whose writer shows up within `wait_ms`. *fd gets it opened for blocking reads, *first
// what was read from a fifo while waiting for its writer, *eof whether that writer already closed it.
Status OpenChecked(const std::string& path, int64_t max_bytes, int wait_ms, int* fd, std::string* first, bool* eof) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return CannotRead();
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("is a directory" + Allowed(max_bytes));
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    return Status::InvalidArgument("is not a regular file" + Allowed(max_bytes));
  if (max_bytes >= 0 && st.st_size > max_bytes) return TooLarge(max_bytes);
  // O_NONBLOCK: a fifo's open() would otherwise wait for a writer without end (AwaitFifoWriter bounds the wait).
  *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (*fd < 0) return CannotRead();
  first->clear();
  *eof = false;
  Status result;
  if (S_ISFIFO(st.st_mode)) result = AwaitFifoWriter(*fd, wait_ms, first, eof);
  // Blocking again: with a writer there, a read waits for its data until it closes the fifo.
  if (result.ok() && !*eof && ::fcntl(*fd, F_SETFL, ::fcntl(*fd, F_GETFL) & ~O_NONBLOCK) != 0) result = CannotRead();
  if (!result.ok()) {
    ::close(*fd);
    *fd = -1;
  }
  return result;
}

}  // namespace

Status ReadInputFile(const std::string& path, int64_t max_bytes, std::string* text, int fifo_writer_wait_ms) {
  int fd = -1;
  bool eof = false;
  text->clear();
  RINGLAB_RETURN_IF_ERROR(OpenChecked(path, max_bytes, fifo_writer_wait_ms, &fd, text, &eof));
  Status result;
  if (int64_t(text->size()) > max_bytes) result = TooLarge(max_bytes);
  char buffer[1 << 16];
  while (result.ok() && !eof) {  // bounded: a fifo has no size, and a regular file may grow while it is read
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) result = CannotRead();
    if (n <= 0) break;
    if (int64_t(text->size()) + n > max_bytes) {
      result = TooLarge(max_bytes);
      break;
    }
    text->append(buffer, size_t(n));
  }
  ::close(fd);
  return result;
}

// The stream's bytes: first what OpenChecked read while waiting for a fifo's writer, then the file's, a buffer at a
// time. A failed read is remembered and ends the stream (an istream has no way to carry the reason).
class InputStream::Buffer : public std::streambuf {
 public:
  Buffer(int fd, std::string first, bool eof) : fd_(fd), eof_(eof), data_(std::move(first)) {
    const size_t first_size = data_.size();
    data_.resize(std::max(first_size, kChunk));
    setg(data_.data(), data_.data(), data_.data() + first_size);
  }
  ~Buffer() override {
    if (fd_ >= 0) ::close(fd_);
  }
  const Status& status() const { return status_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    while (!eof_) {
      const ssize_t n = ::read(fd_, data_.data(), kChunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) status_ = CannotRead();
      if (n <= 0) {
        eof_ = true;
        break;
      }
      setg(data_.data(), data_.data(), data_.data() + n);
      return traits_type::to_int_type(*gptr());
    }
    return traits_type::eof();
  }

 private:
  static constexpr size_t kChunk = size_t(1) << 16;
  int fd_;
  bool eof_;
  std::string data_;
  Status status_;
};

InputStream::InputStream() : std::istream(nullptr) {}

InputStream::~InputStream() = default;

Status InputStream::Open(const std::string& path, int fifo_writer_wait_ms) {
  int fd = -1;
  std::string first;
  bool eof = false;
  RINGLAB_RETURN_IF_ERROR(OpenChecked(path, /*max_bytes=*/-1, fifo_writer_wait_ms, &fd, &first, &eof));
  buffer_ = std::make_unique<Buffer>(fd, std::move(first), eof);
  rdbuf(buffer_.get());  // also clears the state
  return Status::Ok();
}

Status InputStream::status() const { return buffer_ ? buffer_->status() : Status::Ok(); }

}  // namespace ringlab
