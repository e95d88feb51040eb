#include "viz/app/output_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ringlab::viz {
namespace {

Status WriteError(const std::string& path, int err) {
  return Status::InvalidArgument("cannot write '" + path + "': " + std::strerror(err));
}

// Writes all of `data` to fd and flushes it to disk (targets that cannot sync, as pipes and terminals, skip that).
Status WriteAllAndSync(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return WriteError(path, errno);
    done += size_t(n);
  }
  if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP) return WriteError(path, errno);
  return Status::Ok();
}

// The mode a plain open(..., 0666) would have given (mkstemp makes 0600).
mode_t DefaultFileMode() {
  const mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

struct Pending {
  std::string path, tmp;  // tmp empty: nothing to rename (standard output, a device, a pipe)
};

// Writes one output: to a temporary beside `path` (renamed later by the caller), or in place for "-" and for an
// existing target that is not a regular file.
Status WriteOne(const std::string& path, const std::string& data, Pending* p) {
  p->path = path;
  if (path.empty()) return Status::InvalidArgument("an output path is empty");
  if (path == "-") return WriteAllAndSync(STDOUT_FILENO, data, "standard output");
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("cannot write '" + path + "': it is a directory");
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return WriteError(path, errno);
    Status s = WriteAllAndSync(fd, data, path);
    if (close(fd) != 0 && s.ok()) s = WriteError(path, errno);
    return s;
  }
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) return WriteError(path, errno);
  p->tmp = tmp;
  Status s = fchmod(fd, DefaultFileMode()) == 0 ? WriteAllAndSync(fd, data, path) : WriteError(path, errno);
  if (close(fd) != 0 && s.ok()) s = WriteError(path, errno);
  return s;
}

}  // namespace

Status WriteOutputFiles(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<Pending> pending(files.size());
  Status s = Status::Ok();
  for (size_t i = 0; i < files.size() && s.ok(); ++i) s = WriteOne(files[i].first, files[i].second, &pending[i]);
  // Every output is whole in its temporary: now move them into place.
  for (size_t i = 0; i < pending.size() && s.ok(); ++i) {
    if (pending[i].tmp.empty()) continue;
    if (rename(pending[i].tmp.c_str(), pending[i].path.c_str()) != 0) s = WriteError(pending[i].path, errno);
    else pending[i].tmp.clear();
  }
  for (const Pending& p : pending)
    if (!p.tmp.empty()) unlink(p.tmp.c_str());
  return s;
}

}  // namespace ringlab::viz
