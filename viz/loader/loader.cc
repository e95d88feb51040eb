// The loader's entry points (declared in model.h): files are memory-mapped (or read and gunzipped), each parsed into
// FileEvents (file_parser.h, on the JSON scanner) and all of them built into one TraceModel (trace_builder.h). Every
// input is checked against the viewer's memory budget (memory_budget.h) before it is parsed.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/input_file.h"
#include "viz/loader/cache.h"
#include "viz/loader/file_events.h"
#include "viz/loader/file_parser.h"
#include "viz/loader/memory_budget.h"
#include "viz/loader/trace_builder.h"
#include "viz/model.h"

namespace ringlab::viz {
namespace {

// A read-only memory map of a plain (not gzipped) file; empty when the file is gzipped or cannot be mapped.
struct MappedFile {
  void* addr = MAP_FAILED;
  size_t size = 0;
  explicit MappedFile(const std::string& path) {
    // Regular files only: open() of a fifo without a writer would block (ReadAll reads those).
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 2) {
      size = size_t(st.st_size);
      addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (addr != MAP_FAILED) {
        const unsigned char* p = static_cast<const unsigned char*>(addr);
        if (p[0] == 0x1f && p[1] == 0x8b) munmap(addr, size), addr = MAP_FAILED;
      }
    }
    close(fd);
  }
  ~MappedFile() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
  bool ok() const { return addr != MAP_FAILED; }
  std::string_view view() const { return {static_cast<const char*>(addr), size}; }
};

// Ok when `path` names something readable that is not a directory; else why not, naming it. *size gets a regular
// file's size (0 for pipes and devices).
Status CheckTracePath(const std::string& path, uint64_t* size) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return Status::InvalidArgument("cannot open trace file '" + path + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return Status::InvalidArgument("trace file '" + path + "' is a directory, not a file");
  if (access(path.c_str(), R_OK) != 0)
    return Status::InvalidArgument("cannot read trace file '" + path + "': " + std::strerror(errno));
  *size = S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0;
  return Status::Ok();
}

// All of a file (also pipes and devices), at most `limit` bytes. A fifo goes through core's ReadInputFile, which
// waits a bounded time for its writer instead of blocking in open() forever.
Status ReadAll(const std::string& path, uint64_t limit, std::string* out) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
    const Status read = ReadInputFile(path, int64_t(std::min<uint64_t>(limit, uint64_t(INT64_MAX))), out);
    if (read.ok()) return read;
    return Status::InvalidArgument("trace file '" + path + "': " + read.message());
  }
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::InvalidArgument("cannot open trace file '" + path + "': " + std::strerror(errno));
  out->clear();
  size_t have = 0;
  for (;;) {
    if (have == out->size()) out->resize(std::max<size_t>(out->size() * 2, 1 << 16));
    const ssize_t n = read(fd, out->data() + have, out->size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Status::InvalidArgument("cannot read trace file '" + path + "': " + std::strerror(err));
    }
    if (n == 0) break;
    have += size_t(n);
    if (have > limit) {
      close(fd);
      return Status::InvalidArgument("trace file '" + path + "' is larger than the viewer's memory budget of " +
                                     loader::FormatMegabytes(limit));
    }
  }
  close(fd);
  out->resize(have);
  return Status::Ok();
}

// Inflates gzip data (concatenated members too), at most `limit` bytes of output.
Status Gunzip(const std::string& path, std::string& raw, uint64_t limit, std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return Status::Internal("zlib init failed");
  std::string res;
  res.resize(std::min<uint64_t>(std::max<size_t>(raw.size() * 4, 1 << 16), limit + 1));
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = uInt(std::min<size_t>(raw.size(), 1u << 30));
  size_t have = 0;
  int rc = Z_OK;
  while (true) {
    if (have == res.size()) {
      if (have > limit) {
        inflateEnd(&z);
        return Status::InvalidArgument("trace file '" + path + "' decompresses to more than the viewer's memory budget "
                                       "of " + loader::FormatMegabytes(limit));
      }
      res.resize(std::min<uint64_t>(res.size() * 2, limit + 1));
    }
    z.next_out = reinterpret_cast<Bytef*>(res.data() + have);
    z.avail_out = uInt(std::min<size_t>(res.size() - have, 1u << 30));
    size_t before = z.avail_out;
    rc = inflate(&z, Z_NO_FLUSH);
    have += before - z.avail_out;
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members: continue with the next one.
      if (z.avail_in > 0) {
        inflateReset(&z);
        continue;
      }
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) break;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    return Status::InvalidArgument("trace file '" + path + "': gzip data is corrupt or truncated (" +
                                   (z.msg ? std::string(z.msg) : "ended early") + ")");
  res.resize(have);
  *out = std::move(res);
  return Status::Ok();
}

}  // namespace

Status ReadFileMaybeGz(const std::string& path, std::string* out) {
  uint64_t size = 0;
  RINGLAB_RETURN_IF_ERROR(CheckTracePath(path, &size));
  const loader::MemoryBudget budget = loader::ViewerMemoryBudget();
  if (size > budget.bytes) return loader::CheckTraceFits(path, size, 0, budget);
  std::string raw;
  RINGLAB_RETURN_IF_ERROR(ReadAll(path, budget.bytes, &raw));
  if (raw.size() >= 2 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b)
    return Gunzip(path, raw, budget.bytes, out);
  *out = std::move(raw);
  return Status::Ok();
}

Status LoadTraceFiles(const std::vector<std::string>& paths, TraceModel* out, const LoadOptions& opt) {
  if (paths.empty()) return Status::InvalidArgument("no trace files given");
  const loader::MemoryBudget budget = loader::ViewerMemoryBudget();
  std::vector<loader::FileEvents> files(paths.size());
  loader::Interner names;
  uint64_t used = 0;
  size_t lanes = 0;
  // One file at a time: checked against the budget, read from its cache or parsed (its buffer freed right after).
  for (size_t i = 0; i < paths.size(); ++i) {
    uint64_t size = 0;
    RINGLAB_RETURN_IF_ERROR(CheckTracePath(paths[i], &size));
    RINGLAB_RETURN_IF_ERROR(loader::CheckTraceFits(paths[i], size, used, budget));  // before mapping or reading it
    if (opt.use_cache && loader::ReadCache(paths[i], &files[i], &names)) {
      used += files[i].events.size() * (sizeof(Event) + sizeof(double));
    } else {
      std::string buf;
      auto map = std::make_unique<MappedFile>(paths[i]);
      std::string_view data;
      if (map->ok()) {
        data = map->view();
      } else {
        RINGLAB_RETURN_IF_ERROR(ReadFileMaybeGz(paths[i], &buf));
        data = buf;
      }
      const uint64_t need = loader::EstimateLoadBytes(data);
      RINGLAB_RETURN_IF_ERROR(loader::CheckTraceFits(paths[i], need, used, budget));
      used += need;
      RINGLAB_RETURN_IF_ERROR(loader::ParseFile(data, paths[i], &files[i], &names));
      map.reset();
      std::string().swap(buf);
      // The cache only saves time: a folder it cannot be written to is no error.
      if (opt.use_cache && size >= opt.cache_min_bytes) {
        loader::CanonicalOrder(&files[i]);  // sorted once here, so a load from the cache needs no sort
        (void)loader::WriteCache(paths[i], files[i], names);
      }
    }
    lanes += files[i].lane_keys.size();
    if (lanes > loader::kMaxLanes)
      return Status::InvalidArgument("trace file '" + paths[i] + "': more than " + std::to_string(loader::kMaxLanes) +
                                     " lanes (distinct pid/tid pairs) in the files loaded; the viewer shows at most that");
  }
  return loader::BuildModel(files, names.TakeNames(), out, opt);
}

Status LoadTraceBuffer(std::string_view data, const std::string& name, TraceModel* out) {
  RINGLAB_RETURN_IF_ERROR(
      loader::CheckTraceFits(name, loader::EstimateLoadBytes(data), 0, loader::ViewerMemoryBudget()));
  std::vector<loader::FileEvents> files(1);
  loader::Interner names;
  RINGLAB_RETURN_IF_ERROR(loader::ParseFile(data, name, &files[0], &names));
  if (files[0].lane_keys.size() > loader::kMaxLanes)
    return Status::InvalidArgument("trace file '" + name + "': more than " + std::to_string(loader::kMaxLanes) +
                                   " lanes (distinct pid/tid pairs); the viewer shows at most that");
  return loader::BuildModel(files, names.TakeNames(), out);
}

}  // namespace ringlab::viz
