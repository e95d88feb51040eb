#include "viz/loader/cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <ostream>
#include <type_traits>
#include <vector>

#include "core/config_json.h"
#include "core/output_file.h"

namespace ringlab::viz::loader {
namespace {

constexpr char kMagic[8] = {'R', 'L', 'V', 'C', 'A', 'C', 'H', 'E'};
// Bumped whenever the parser starts refusing what it accepted (or reads it differently): a cache is only the result
// of a parse, so one written before must not let a trace skip the checks. 2: ringlab lanes, counters and metadata
// checked whole (file_parser.cc), counters bounded (memory_budget.h).
constexpr uint32_t kVersion = 2;

static_assert(std::is_trivially_copyable_v<Event> && std::is_trivially_copyable_v<FlowPoint> &&
              std::is_trivially_copyable_v<CounterSample>);

// What identifies the trace a cache was made from, and the layout it was written in.
struct Header {
  char magic[8];
  uint32_t version, event_size, flow_size, counter_size;
  uint64_t source_size, source_dev, source_ino;
  int64_t source_mtime_ns;
};

bool SourceHeader(const std::string& trace, Header* h) {
  struct stat st;
  if (stat(trace.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::memset(h, 0, sizeof *h);
  std::memcpy(h->magic, kMagic, sizeof kMagic);
  h->version = kVersion;
  h->event_size = sizeof(Event), h->flow_size = sizeof(FlowPoint), h->counter_size = sizeof(CounterSample);
  h->source_size = uint64_t(st.st_size), h->source_dev = uint64_t(st.st_dev), h->source_ino = uint64_t(st.st_ino);
  h->source_mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

class Writer {
 public:
  explicit Writer(std::ostream& os) : os_(os) {}
  void Bytes(const void* p, size_t n) { os_.write(static_cast<const char*>(p), std::streamsize(n)); }
  template <typename T>
  void Pod(const T& v) { Bytes(&v, sizeof v); }
  void Str(const std::string& s) { Pod(uint64_t(s.size())), Bytes(s.data(), s.size()); }
  template <typename T>
  void Array(const std::vector<T>& v) { Pod(uint64_t(v.size())), Bytes(v.data(), v.size() * sizeof(T)); }

 private:
  std::ostream& os_;
};

// Reads with bounds checks: a short or damaged cache makes ok() false instead of reading past the end.
class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), e_(p + n) {}
  bool ok() const { return ok_; }
  bool Bytes(void* out, size_t n) {
    if (!ok_ || size_t(e_ - p_) < n) return ok_ = false;
    std::memcpy(out, p_, n);
    p_ += n;
    return true;
  }
  template <typename T>
  T Pod() {
    T v{};
    Bytes(&v, sizeof v);
    return v;
  }
  std::string Str() {
    const uint64_t n = Pod<uint64_t>();
    if (!ok_ || n > uint64_t(e_ - p_)) return ok_ = false, std::string();
    std::string s(p_, size_t(n));
    p_ += n;
    return s;
  }
  template <typename T>
  void Array(std::vector<T>* v) {
    const uint64_t n = Pod<uint64_t>();
    if (!ok_ || n > uint64_t(e_ - p_) / sizeof(T)) return void(ok_ = false);
    v->resize(size_t(n));
    Bytes(v->data(), size_t(n) * sizeof(T));
  }
  bool AtEnd() const { return ok_ && p_ == e_; }

 private:
  const char* p_;
  const char* e_;
  bool ok_ = true;
};

void WriteInfo(Writer& w, const FileInfo& f) {
  w.Pod(uint8_t(f.ringlab)), w.Pod(uint8_t(f.has_config)), w.Pod(uint8_t(f.has_rank));
  w.Str(f.format), w.Pod(f.event_count), w.Str(f.run_id);
  w.Pod(int32_t(f.meta.version)), w.Str(f.meta.source), w.Str(f.meta.hardware), w.Pod(f.meta.schedule_op_count);
  w.Str(f.has_config ? ToJson(f.meta.config).dump() : std::string());
}

bool ReadInfo(Reader& r, FileInfo* f) {
  f->ringlab = r.Pod<uint8_t>(), f->has_config = r.Pod<uint8_t>(), f->has_rank = r.Pod<uint8_t>();
  f->format = r.Str(), f->event_count = r.Pod<int64_t>(), f->run_id = r.Str();
  f->meta.version = r.Pod<int32_t>(), f->meta.source = r.Str(), f->meta.hardware = r.Str();
  f->meta.schedule_op_count = r.Pod<int64_t>();
  const std::string config = r.Str();
  if (!r.ok()) return false;
  if (!f->has_config) return true;
  const nlohmann::json j = nlohmann::json::parse(config, nullptr, false);
  return !j.is_discarded() && FromJson(j, &f->meta.config).ok();
}

// A read-only map of a whole file.
struct Map {
  void* addr = MAP_FAILED;
  size_t size = 0;
  explicit Map(const std::string& path) {
    // O_NONBLOCK: a fifo (or another special file) planted where the cache goes must not block the open; only a
    // regular file is mapped below.
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      size = size_t(st.st_size);
      addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    }
    close(fd);
  }
  ~Map() {
    if (addr != MAP_FAILED) munmap(addr, size);
  }
};

bool ReadBody(Reader& r, FileEvents* fe, Interner* names) {
  if (!ReadInfo(r, &fe->info)) return false;
  fe->has_dist_rank = r.Pod<uint8_t>(), fe->dist_rank = r.Pod<int64_t>(), fe->ts_origin = r.Pod<int64_t>();
  // Names, local to this file: interned into the load's names; events are renumbered unless the ids agree.
  const uint64_t n_names = r.Pod<uint64_t>();
  std::vector<uint32_t> global;
  bool identity = true;
  for (uint64_t i = 0; i < n_names && r.ok(); ++i) {
    global.push_back(names->Get(r.Str()));
    identity &= global.back() == i;
  }
  r.Array(&fe->events);
  for (uint64_t n = r.Pod<uint64_t>(); n-- && r.ok();) {
    const int64_t pid = r.Pod<int64_t>(), tid = r.Pod<int64_t>();
    fe->lane_keys.push_back({pid, tid});
  }
  if (!r.ok()) return false;
  for (Event& e : fe->events) {
    if (e.name >= global.size() || e.lane >= fe->lane_keys.size()) return false;
    if (!identity) e.name = global[e.name];
  }
  for (uint64_t n = r.Pod<uint64_t>(); n-- && r.ok();) {
    const int64_t pid = r.Pod<int64_t>();
    fe->process_names[pid] = r.Str();
  }
  for (uint64_t n = r.Pod<uint64_t>(); n-- && r.ok();) {
    const int64_t pid = r.Pod<int64_t>(), tid = r.Pod<int64_t>();
    fe->thread_names[{pid, tid}] = r.Str();
  }
  for (uint64_t n = r.Pod<uint64_t>(); n-- && r.ok();) {
    const int64_t id = r.Pod<int64_t>();
    fe->id_names[id] = r.Str();
  }
  r.Array(&fe->extras.flows);
  r.Array(&fe->extras.counters);
  for (uint64_t n = r.Pod<uint64_t>(); n-- && r.ok();) {
    const int64_t pid = r.Pod<int64_t>();
    fe->extras.SeriesOf(pid, r.Str());
  }
  if (!r.AtEnd()) return false;
  for (const FlowPoint& p : fe->extras.flows)
    if (p.lane >= fe->lane_keys.size()) return false;
  for (const CounterSample& c : fe->extras.counters)
    if (c.series >= fe->extras.counter_keys.size()) return false;
  return true;
}

}  // namespace

std::string CachePath(const std::string& trace) { return trace + ".rlcache"; }

bool ReadCache(const std::string& trace, FileEvents* fe, Interner* names) {
  Header want;
  if (!SourceHeader(trace, &want)) return false;
  Map map(CachePath(trace));
  if (map.addr == MAP_FAILED) return false;
  Reader r(static_cast<const char*>(map.addr), map.size);
  const Header got = r.Pod<Header>();
  if (!r.ok() || std::memcmp(&got, &want, sizeof want) != 0) return false;
  // Names are interned as they are read: on a damaged cache the interner keeps a few unused names, harmless.
  if (ReadBody(r, fe, names)) {
    fe->info.path = trace;
    return true;
  }
  *fe = FileEvents();
  return false;
}

Status WriteCache(const std::string& trace, const FileEvents& fe, const Interner& names) {
  Header h;
  if (!SourceHeader(trace, &h)) return Status::InvalidArgument("cannot stat '" + trace + "'");
  // The file's own names, numbered in order of first use.
  std::vector<uint32_t> local(names.store.size(), UINT32_MAX);
  std::vector<uint32_t> used;
  for (const Event& e : fe.events)
    if (local[e.name] == UINT32_MAX) local[e.name] = uint32_t(used.size()), used.push_back(e.name);
  // Only a regular file (or none) is a cache's place: OutputBatch would write into a fifo or device there, and a fifo
  // without a reader blocks.
  struct stat st;
  if (::lstat(CachePath(trace).c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return Status::InvalidArgument("'" + CachePath(trace) + "' is not a regular file: no cache written");
  OutputBatch batch;
  std::ostream* os = nullptr;
  RINGLAB_RETURN_IF_ERROR(batch.Open(CachePath(trace), &os));
  Writer w(*os);
  w.Pod(h);
  WriteInfo(w, fe.info);
  w.Pod(uint8_t(fe.has_dist_rank)), w.Pod(fe.dist_rank), w.Pod(fe.ts_origin);
  w.Pod(uint64_t(used.size()));
  for (uint32_t g : used) w.Str(*names.store[g]);
  // Events with their names renumbered, a block at a time.
  w.Pod(uint64_t(fe.events.size()));
  std::vector<Event> block;
  for (size_t i = 0; i < fe.events.size(); i += 65536) {
    block.assign(fe.events.begin() + ptrdiff_t(i), fe.events.begin() + ptrdiff_t(std::min(fe.events.size(), i + 65536)));
    for (Event& e : block) e.name = local[e.name];
    w.Bytes(block.data(), block.size() * sizeof(Event));
  }
  w.Pod(uint64_t(fe.lane_keys.size()));
  for (const auto& [pid, tid] : fe.lane_keys) w.Pod(pid), w.Pod(tid);
  w.Pod(uint64_t(fe.process_names.size()));
  for (const auto& [pid, n] : fe.process_names) w.Pod(pid), w.Str(n);
  w.Pod(uint64_t(fe.thread_names.size()));
  for (const auto& [k, n] : fe.thread_names) w.Pod(k.first), w.Pod(k.second), w.Str(n);
  w.Pod(uint64_t(fe.id_names.size()));
  for (const auto& [id, n] : fe.id_names) w.Pod(id), w.Str(n);
  w.Array(fe.extras.flows);
  w.Array(fe.extras.counters);
  w.Pod(uint64_t(fe.extras.counter_keys.size()));
  for (const CounterKey& k : fe.extras.counter_keys) w.Pod(k.pid), w.Str(k.name);
  return batch.Commit();
}

}  // namespace ringlab::viz::loader
