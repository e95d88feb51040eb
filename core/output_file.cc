#include "core/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <streambuf>

namespace ringlab {
namespace {

// A stream buffer over a file descriptor that remembers the first write error (errno), so that the message can say
// why ("No space left on device") instead of only that the stream went bad.
class FdStreamBuf : public std::streambuf {
 public:
  explicit FdStreamBuf(int fd) : fd_(fd), buffer_(1 << 16) { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  int error() const { return error_; }
  // Writes what is buffered; false (and error() set) when the descriptor refused it.
  bool Drain() {
    const char* p = pbase();
    size_t left = size_t(pptr() - pbase());
    while (left > 0 && error_ == 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
      } else {
        p += n;
        left -= size_t(n);
      }
    }
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return error_ == 0;
  }

 protected:
  int_type overflow(int_type c) override {
    if (!Drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return Drain() ? 0 : -1; }

 private:
  int fd_;
  int error_ = 0;
  std::vector<char> buffer_;
};

std::string Reason(int err) { return std::strerror(err); }

Status CannotWrite(const std::string& path, const std::string& reason) {
  return Status::InvalidArgument("cannot write " + (path == "-" ? std::string("- (stdout)") : path) + ": " + reason);
}

std::string FolderOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// "out/et//" -> "out/et" ("/" stays "/"), so that FolderOf walks up one folder at a time.
std::string WithoutTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string NameOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The mode a newly created file gets (0666 less the umask), or an existing target's mode, kept across the rename.
mode_t ModeFor(const struct stat* existing) {
  if (existing) return existing->st_mode & 07777;
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}

}  // namespace

struct OutputBatch::Entry {
  std::string path;       // as given, for messages
  std::string target;     // what the rename replaces (a symlink's target resolved); empty: written in place
  std::string temporary;  // beside target
  int fd = -1;
  bool owns_fd = true;  // false for stdout
  std::unique_ptr<FdStreamBuf> buf;
  std::unique_ptr<std::ostream> stream;
};

OutputBatch::OutputBatch() = default;
OutputBatch::~OutputBatch() {
  RemoveTemporaries();
  RemoveCreatedFolders();
}

bool IsSpecialOutput(const std::string& path) {
  if (path == "-") return true;
  if (path.starts_with("/dev/") || path.starts_with("/proc/")) return true;
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

Status OutputBatch::Open(const std::string& path, std::ostream** stream) {
  if (path.empty()) return CannotWrite("''", "empty path");
  auto e = std::make_unique<Entry>();
  e->path = path;
  auto taken = [this](const std::string& target, bool by_path) {
    for (const auto& other : entries_)
      if (by_path ? other->path == target : (!other->target.empty() && other->target == target)) return true;
    return false;
  };
  // Two outputs of one batch onto one file: only the last would stay.
  if (path == "-" && taken("-", true)) return CannotWrite(path, "named twice among this run's outputs");
  if (path == "-") {
    std::fflush(stdout);
    e->fd = STDOUT_FILENO;
    e->owns_fd = false;
  } else if (IsSpecialOutput(path)) {
    e->fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (e->fd < 0) return CannotWrite(path, Reason(errno));
  } else {
    struct stat st;
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) return CannotWrite(path, "is a directory");
    e->target = path;
    struct stat lst;
    if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode) && exists) {  // write through the link
      char resolved[PATH_MAX];
      if (::realpath(path.c_str(), resolved)) e->target = resolved;
    }
    std::string name = NameOf(e->target);
    if (name.size() > 200) name.resize(200);  // the temporary's name must fit NAME_MAX
    if (taken(e->target, false)) return CannotWrite(path, "named twice among this run's outputs");
    e->temporary = FolderOf(e->target) + "/." + name + ".tmp-XXXXXX";
    e->fd = ::mkostemp(e->temporary.data(), O_CLOEXEC);
    if (e->fd < 0) {
      const int err = errno;
      e->temporary.clear();
      struct stat folder;
      if (err == ENOENT || (::stat(FolderOf(e->target).c_str(), &folder) == 0 && !S_ISDIR(folder.st_mode)))
        return CannotWrite(path, "folder " + FolderOf(e->target) + " does not exist");
      return CannotWrite(path, Reason(err));
    }
    ::fchmod(e->fd, ModeFor(exists ? &st : nullptr));
  }
  e->buf = std::make_unique<FdStreamBuf>(e->fd);
  e->stream = std::make_unique<std::ostream>(e->buf.get());
  *stream = e->stream.get();
  entries_.push_back(std::move(e));
  return Status::Ok();
}

Status OutputBatch::Add(const std::string& path, std::string_view text) {
  std::ostream* f = nullptr;
  RINGLAB_RETURN_IF_ERROR(Open(path, &f));
  f->write(text.data(), std::streamsize(text.size()));
  return Status::Ok();
}

Status OutputBatch::Commit() {
  Status failed;
  for (auto& e : entries_) {
    e->stream->flush();
    int err = e->buf->error();
    if (err == 0 && !e->buf->Drain()) err = e->buf->error();
    if (err == 0 && !e->temporary.empty() && ::fsync(e->fd) != 0) err = errno;
    if (err == 0 && e->owns_fd && ::close(e->fd) != 0) err = errno;
    if (e->owns_fd) e->fd = -1;
    if (err != 0) {
      failed = CannotWrite(e->path, Reason(err));
      break;
    }
  }
  if (!failed.ok()) {
    RemoveTemporaries();
    RemoveCreatedFolders();
    return failed;
  }
  for (auto& e : entries_) {
    if (e->temporary.empty()) continue;
    if (::rename(e->temporary.c_str(), e->target.c_str()) != 0) {
      failed = CannotWrite(e->path, Reason(errno));
      break;
    }
    e->temporary.clear();
    const int dir = ::open(FolderOf(e->target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {  // make the rename itself durable
      ::fsync(dir);
      ::close(dir);
    }
  }
  RemoveTemporaries();
  entries_.clear();
  if (failed.ok())
    created_folders_.clear();  // they hold the outputs now
  else
    RemoveCreatedFolders();
  return failed;
}

Status OutputBatch::CreateFolder(const std::string& path) {
  // The missing folders, innermost first: walk up to the first path that exists.
  std::vector<std::string> missing;
  for (std::string p = WithoutTrailingSlashes(path);; p = WithoutTrailingSlashes(FolderOf(p))) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument("cannot create folder " + path + ": " + p +
                                                               " is not a folder");
      break;
    }
    const int err = errno;
    // ENOTDIR: a file on the way, named below. "." or "/" missing: the working folder was removed.
    if ((err != ENOENT && err != ENOTDIR) || FolderOf(p) == p)
      return Status::InvalidArgument("cannot create folder " + path + ": " + Reason(err));
    missing.push_back(p);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0777) != 0) {
      const int err = errno;
      return Status::InvalidArgument("cannot create folder " + *it + ": " + Reason(err));
    }
    created_folders_.push_back(*it);
  }
  return Status::Ok();
}

void OutputBatch::RemoveCreatedFolders() {
  for (auto it = created_folders_.rbegin(); it != created_folders_.rend(); ++it) ::rmdir(it->c_str());  // if empty
  created_folders_.clear();
}

void OutputBatch::RemoveTemporaries() {
  for (auto& e : entries_) {
    if (e->owns_fd && e->fd >= 0) ::close(e->fd);
    e->fd = -1;
    if (!e->temporary.empty()) ::unlink(e->temporary.c_str());
    e->temporary.clear();
  }
}

Status WriteOutputFile(const std::string& path, std::string_view text) {
  OutputBatch batch;
  RINGLAB_RETURN_IF_ERROR(batch.Add(path, text));
  return batch.Commit();
}

Status CheckOutputPath(const std::string& path) {
  if (path == "-") return Status::Ok();
  if (IsSpecialOutput(path)) {  // must exist and accept writes; nothing is written now
    struct stat st;
    // /dev/full (Linux's memory device 1:7) opens fine and refuses every write: say so now, not after the work.
    if (::stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 7)
      return CannotWrite(path, Reason(ENOSPC));
    const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0)
      ::close(fd);
    else if (errno != ENXIO)
      return CannotWrite(path, Reason(errno));  // ENXIO: a fifo without a reader yet
    return Status::Ok();
  }
  OutputBatch probe;  // creates the temporary and removes it again
  std::ostream* f = nullptr;
  RINGLAB_RETURN_IF_ERROR(probe.Open(path, &f));
  // A full file system fails the write later anyway; when it has no block left at all, fail before the work.
  struct statvfs fs;
  if (::statvfs(FolderOf(path).c_str(), &fs) == 0 && fs.f_bavail == 0 && fs.f_blocks > 0)
    return CannotWrite(path, Reason(ENOSPC) + " (no free block in " + FolderOf(path) + ")");
  return Status::Ok();
}

Status CheckOutputFolder(const std::string& dir) {
  OutputBatch probe;  // removes the folders it creates
  RINGLAB_RETURN_IF_ERROR(probe.CreateFolder(dir));
  std::string temporary = WithoutTrailingSlashes(dir) + "/.ringlab-probe.tmp-XXXXXX";
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) return CannotWrite(dir, Reason(errno));
  ::close(fd);
  ::unlink(temporary.c_str());
  return Status::Ok();
}

namespace {

// What a path names, to compare two outputs: the file's identity when it exists, else its folder's real path and name.
std::string OutputIdentity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return "inode " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  char folder[PATH_MAX];
  const std::string dir = ::realpath(FolderOf(path).c_str(), folder) ? std::string(folder) : FolderOf(path);
  return "path " + dir + "/" + NameOf(path);
}

}  // namespace

Status CheckDistinctOutputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i)
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      const std::string &a = outputs[i].second, &b = outputs[j].second;
      if (a.empty() || b.empty() || (a != "-" && IsSpecialOutput(a)) || (b != "-" && IsSpecialOutput(b))) continue;
      if (a == b || (a != "-" && b != "-" && OutputIdentity(a) == OutputIdentity(b)))
        return Status::InvalidArgument(outputs[i].first + " " + a + " and " + outputs[j].first + " " + b +
                                       " name the same " + (a == "-" ? "stream (stdout)" : "file") +
                                       ": each output needs its own");
    }
  return Status::Ok();
}

Status CheckOutputsAreNotInputs(const std::vector<std::pair<std::string, std::string>>& outputs,
                                const std::vector<std::pair<std::string, std::string>>& inputs) {
  for (const auto& [out_flag, out] : outputs) {
    struct stat o;
    if (out.empty() || IsSpecialOutput(out) || ::stat(out.c_str(), &o) != 0) continue;  // a new file is no input
    for (const auto& [in_flag, in] : inputs) {
      struct stat i;
      if (in.empty() || ::stat(in.c_str(), &i) != 0 || i.st_dev != o.st_dev || i.st_ino != o.st_ino) continue;
      return Status::InvalidArgument(out_flag + " " + out + " is the file " + in_flag + " " + in +
                                     " reads: writing it would replace that input; give the output another path");
    }
  }
  return Status::Ok();
}

std::string OutputPathWithSuffix(const std::string& path, const std::string& suffix) {
  const size_t slash = path.rfind('/');
  const size_t name = slash == std::string::npos ? 0 : slash + 1;
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || dot <= name) return path + suffix;  // no extension (or a dot file: ".trace")
  return path.substr(0, dot) + suffix + path.substr(dot);
}

std::vector<std::string> MethodTracePaths(const std::string& path, bool both_methods, bool backward) {
  std::vector<std::string> paths;
  for (const std::string& method : both_methods ? std::vector<std::string>{".allgather", ".alltoall"}
                                                : std::vector<std::string>{""}) {
    paths.push_back(method.empty() ? path : OutputPathWithSuffix(path, method));
    if (backward) paths.push_back(OutputPathWithSuffix(paths.back(), ".backward"));
  }
  return paths;
}

Status CheckSuffixable(const std::string& flag, const std::string& path, const std::string& why) {
  // A folder would not be written itself: its suffixed names would land beside it ("DIR.alltoall.forward") while
  // the user meant the files to go into it. Refused as a single output to a folder is ("is a directory").
  struct stat st;
  if (path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Status::InvalidArgument("cannot write " + path + ": is a directory (" + flag + " takes a file name; this run " +
                                   "writes several files (" + why + "), named by inserting a suffix into it)");
  if (!IsSpecialOutput(path)) return Status::Ok();
  return Status::InvalidArgument(flag + " " + path + ": this run writes several files (" + why + "), named by " +
                                 "inserting a suffix before the extension, and " +
                                 (path == "-" ? std::string("'-' (stdout)") : "the special file " + path) +
                                 " cannot take one; give a file name or select one configuration");
}

}  // namespace ringlab
