#include "core/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringlab {

Status ReadInputFile(const std::string& path, int64_t max_bytes, std::string* text) {
  const std::string allowed =
      " (allowed: a regular file or a fifo of at most " + std::to_string(max_bytes >> 20) + " MiB)";
  auto cannot_read = [] { return Status::InvalidArgument(std::string("cannot read: ") + std::strerror(errno)); };
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return cannot_read();
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("is a directory" + allowed);
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) return Status::InvalidArgument("is not a regular file" + allowed);
  const Status too_large =
      Status::InvalidArgument("is larger than " + std::to_string(max_bytes >> 20) + " MiB" + allowed);
  if (st.st_size > max_bytes) return too_large;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return cannot_read();
  text->clear();
  Status result;
  char buffer[1 << 16];
  for (;;) {  // bounded: a fifo has no size, and a regular file may grow while it is read
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) result = cannot_read();
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
