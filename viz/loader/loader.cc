// The loader's entry points (declared in model.h): files are memory-mapped (or read and gunzipped), each parsed into
// FileEvents (file_parser.h, on the JSON scanner) and all of them built into one TraceModel (trace_builder.h).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "viz/loader/file_events.h"
#include "viz/loader/file_parser.h"
#include "viz/loader/trace_builder.h"
#include "viz/model.h"

namespace ringlab::viz {
namespace {

// A read-only memory map of a plain (not gzipped) file; empty when the file is gzipped or cannot be mapped.
struct MappedFile {
  void* addr = MAP_FAILED;
  size_t size = 0;
  explicit MappedFile(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return;
    struct stat st;
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

Status LoadBuffers(const std::vector<std::pair<std::string, std::string_view>>& inputs,
                   std::vector<std::string>* buffers_to_free, TraceModel* out) {
  std::vector<loader::FileEvents> files(inputs.size());
  loader::Interner names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    RINGLAB_RETURN_IF_ERROR(loader::ParseFile(inputs[i].second, inputs[i].first, &files[i], &names));
    if (buffers_to_free && i < buffers_to_free->size()) std::string().swap((*buffers_to_free)[i]);
  }
  loader::BuildModel(files, names.TakeNames(), out);
  return Status::Ok();
}

}  // namespace

Status ReadFileMaybeGz(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::InvalidArgument("cannot open trace file '" + path + "'");
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  if (size < 0) return Status::InvalidArgument("cannot read trace file '" + path + "' (not a regular file?)");
  f.seekg(0);
  std::string raw(size_t(size), '\0');
  if (size > 0 && !f.read(raw.data(), size)) return Status::InvalidArgument("cannot read trace file '" + path + "'");
  if (raw.size() >= 2 && (unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 32) != Z_OK) return Status::Internal("zlib init failed");
    std::string res;
    res.resize(std::max<size_t>(raw.size() * 4, 1 << 16));
    z.next_in = reinterpret_cast<Bytef*>(raw.data());
    z.avail_in = uInt(raw.size());
    size_t have = 0;
    int rc = Z_OK;
    while (true) {
      if (have == res.size()) res.resize(res.size() * 2);
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
  *out = std::move(raw);
  return Status::Ok();
}

Status LoadTraceFiles(const std::vector<std::string>& paths, TraceModel* out, const LoadOptions&) {
  if (paths.empty()) return Status::InvalidArgument("no trace files given");
  std::vector<std::string> bufs(paths.size());
  std::vector<std::unique_ptr<MappedFile>> maps;
  std::vector<std::pair<std::string, std::string_view>> inputs;
  for (size_t i = 0; i < paths.size(); ++i) {
    maps.push_back(std::make_unique<MappedFile>(paths[i]));
    if (maps.back()->ok()) {
      inputs.push_back({paths[i], maps.back()->view()});
      continue;
    }
    RINGLAB_RETURN_IF_ERROR(ReadFileMaybeGz(paths[i], &bufs[i]));
    inputs.push_back({paths[i], bufs[i]});
  }
  return LoadBuffers(inputs, &bufs, out);
}

Status LoadTraceBuffer(std::string_view data, const std::string& name, TraceModel* out) {
  return LoadBuffers({{name, data}}, nullptr, out);
}

}  // namespace ringlab::viz
