#include "core/input_file.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace

Status ReadInputFile(const std::string& path, int64_t max_bytes, std::string* text, int fifo_writer_wait_ms) {
  const std::string allowed =
      " (allowed: a regular file or a fifo of at most " + std::to_string(max_bytes >> 20) + " MiB)";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return CannotRead();
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("is a directory" + allowed);
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) return Status::InvalidArgument("is not a regular file" + allowed);
  const Status too_large =
      Status::InvalidArgument("is larger than " + std::to_string(max_bytes >> 20) + " MiB" + allowed);
  if (st.st_size > max_bytes) return too_large;
  // O_NONBLOCK: a fifo's open() would otherwise wait for a writer without end (AwaitFifoWriter bounds the wait).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return CannotRead();
  text->clear();
  Status result;
  bool eof = false;
  if (S_ISFIFO(st.st_mode)) result = AwaitFifoWriter(fd, fifo_writer_wait_ms, text, &eof);
  // Blocking again: with a writer there, a read waits for its data until it closes the fifo.
  if (result.ok() && !eof && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) result = CannotRead();
  if (int64_t(text->size()) > max_bytes) result = too_large;
  char buffer[1 << 16];
  while (result.ok() && !eof) {  // bounded: a fifo has no size, and a regular file may grow while it is read
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) result = CannotRead();
    if (n <= 0) break;
    if (int64_t(text->size()) + n > max_bytes) {
      result = too_large;
      break;
    }
    text->append(buffer, size_t(n));
  }
  ::close(fd);
  return result;
}

}  // namespace ringlab
