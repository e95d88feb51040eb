// Streaming loader for Chrome Trace Event JSON: a hand-written scanner over the known shape (a DOM parse of a
// million-event file is several times slower), with exact error positions. Unknown keys are skipped.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "core/config_json.h"
#include "viz/model.h"

namespace ringlab::viz {
namespace {

constexpr int kMaxDepth = 200;

// Key comparison with a compile-time length, so it inlines instead of calling memcmp.
template <size_t N>
inline bool Is(std::string_view k, const char (&lit)[N]) {
  return k.size() == N - 1 && std::memcmp(k.data(), lit, N - 1) == 0;
}

struct RawEvent {
  char ph = 0;
  bool has_pid = false, has_tid = false, has_ts = false, has_dur = false;
  int64_t pid = 0, tid = 0;
  double ts = 0, dur = 0;
  std::string_view name, cat;
  bool name_escaped = false;
  std::string name_buf, cat_buf;
  int64_t op = -1, step = -1, peer = -1, bytes = 0, sort_index = 0;
  double flops = 0;
  std::string_view meta_name;
  std::string meta_name_buf;
};

// Per-file parse result before indexing.
struct FileEvents {
  FileInfo info;
  bool has_dist_rank = false;
  int64_t dist_rank = 0;
  std::vector<Event> events;                  // lane field = index into lane_keys
  std::vector<std::pair<int64_t, int64_t>> lane_keys;  // (pid, tid)
  std::unordered_map<int64_t, std::string> process_names;
  std::map<std::pair<int64_t, int64_t>, std::string> thread_names;
};

class Scanner {
 public:
  Scanner(std::string_view d, std::string name) : p_(d.data()), b_(d.data()), e_(d.data() + d.size()), name_(name) {}

  // Messages about a field of the current event are prefixed "traceEvents[i]" only when an error happens.
  int64_t event_index = -1;
  std::string Field(const char* f) const {
    return event_index >= 0 ? "traceEvents[" + std::to_string(event_index) + "]" + f : std::string(f);
  }
  Status Error(const std::string& what) const {
    size_t off = size_t(p_ - b_);
    size_t line = 1 + size_t(std::count(b_, p_, '\n'));
    return Status::InvalidArgument("trace file '" + name_ + "': " + what + " (at byte " + std::to_string(off) +
                                   ", line " + std::to_string(line) + ")");
  }
  [[gnu::always_inline]] void Ws() {
    while (p_ < e_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool AtEnd() {
    Ws();
    return p_ >= e_;
  }
  char Peek() {
    Ws();
    return p_ < e_ ? *p_ : '\0';
  }
  bool Eat(char c) {
    Ws();
    if (p_ < e_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  Status Expect(char c, const char* ctx, const char* field = nullptr) {
    if (Eat(c)) [[likely]] return Status::Ok();
    return ExpectFailed(c, ctx, field);
  }
  [[gnu::noinline]] Status ExpectFailed(char c, const char* ctx, const char* field) {
    std::string where = field ? " " + Field(field) : std::string();
    if (p_ >= e_) return Error("unexpected end of file (truncated?) " + std::string(ctx) + where);
    return Error(std::string("expected '") + c + "' " + ctx + where + ", found '" + Printable(*p_) + "'");
  }
  static std::string Printable(char c) {
    if (c >= 32 && c < 127) return std::string(1, c);
    char buf[8];
    snprintf(buf, sizeof buf, "\\x%02x", (unsigned char)c);
    return buf;
  }
  // A JSON string; the view points into the input when there are no escapes, else into *buf.
  Status String(std::string_view* out, std::string* buf) {
    Ws();
    if (p_ >= e_) return Error("unexpected end of file (truncated?) where a string was expected");
    if (*p_ != '"') return Error(std::string("expected a string, found '") + Printable(*p_) + "'");
    const char* s = ++p_;
    // Eight bytes at a time while none is '"', '\\' or a control character.
    while (e_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
      const uint64_t q = w ^ (kOnes * '"'), bs = w ^ (kOnes * '\\');
      const uint64_t hit = ((q - kOnes) & ~q) | ((bs - kOnes) & ~bs) | ((w - kOnes * 0x20) & ~w);
      if (hit & kHigh) break;
      p_ += 8;
    }
    while (p_ < e_ && *p_ != '"' && *p_ != '\\') {
      if ((unsigned char)*p_ < 0x20) return Error("control character inside a string");
      ++p_;
    }
    if (p_ >= e_) return Error("unexpected end of file (truncated?) inside a string");
    if (*p_ == '"') {
      *out = std::string_view(s, size_t(p_ - s));
      ++p_;
      return Status::Ok();
    }
    buf->assign(s, size_t(p_ - s));
    while (p_ < e_ && *p_ != '"') {
      char c = *p_++;
      if ((unsigned char)c < 0x20) return Error("control character inside a string");
      if (c != '\\') {
        buf->push_back(c);
        continue;
      }
      if (p_ >= e_) break;
      char x = *p_++;
      switch (x) {
        case '"': buf->push_back('"'); break;
        case '\\': buf->push_back('\\'); break;
        case '/': buf->push_back('/'); break;
        case 'b': buf->push_back('\b'); break;
        case 'f': buf->push_back('\f'); break;
        case 'n': buf->push_back('\n'); break;
        case 'r': buf->push_back('\r'); break;
        case 't': buf->push_back('\t'); break;
        case 'u': {
          if (e_ - p_ < 4) return Error("truncated \\u escape");
          unsigned v = 0;
          for (int i = 0; i < 4; ++i) {
            char h = p_[i];
            v <<= 4;
            if (h >= '0' && h <= '9') v |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') v |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= unsigned(h - 'A' + 10);
            else return Error("bad \\u escape");
          }
          p_ += 4;
          // UTF-8 encode (surrogates are kept as individual code units: names only need to be displayable).
          if (v < 0x80) buf->push_back(char(v));
          else if (v < 0x800) {
            buf->push_back(char(0xC0 | (v >> 6)));
            buf->push_back(char(0x80 | (v & 0x3F)));
          } else {
            buf->push_back(char(0xE0 | (v >> 12)));
            buf->push_back(char(0x80 | ((v >> 6) & 0x3F)));
            buf->push_back(char(0x80 | (v & 0x3F)));
          }
          break;
        }
        default: return Error(std::string("bad escape '\\") + Printable(x) + "' in a string");
      }
    }
    if (p_ >= e_) return Error("unexpected end of file (truncated?) inside a string");
    ++p_;
    *out = *buf;
    return Status::Ok();
  }
  bool NumberStart() {
    char c = Peek();
    return c == '-' || (c >= '0' && c <= '9');
  }
  Status Number(double* out, const char* fname) {
    if (false) return Status::Ok();
    Ws();
    if (p_ >= e_) return Error("unexpected end of file (truncated?) where " + Field(fname) + " was expected");
    if (!NumberStart()) return Error(Field(fname) + " must be a number, found '" + Printable(*p_) + "'");
    const char* s = p_;
    // Fast path for plain decimals ([-]digits[.digits], at most 18 digits): an exact integer over an exact power of
    // ten, so one correctly rounded division gives the same double as from_chars.
    {
      const char* q = p_;
      bool neg = false;
      if (*q == '-') neg = true, ++q;
      uint64_t mant = 0;
      int digits = 0, frac = 0;
      const char* d0 = q;
      while (q < e_ && *q >= '0' && *q <= '9') mant = mant * 10 + uint64_t(*q++ - '0'), ++digits;
      const bool int_ok = q > d0 && !(q - d0 > 1 && *d0 == '0');
      if (int_ok && q < e_ && *q == '.') {
        const char* f0 = ++q;
        while (q < e_ && *q >= '0' && *q <= '9') mant = mant * 10 + uint64_t(*q++ - '0'), ++digits, ++frac;
        if (q == f0) digits = 99;
      }
      if (int_ok && digits <= 18 && (q >= e_ || (*q != 'e' && *q != 'E' && *q != '.' && *q != '-' && *q != '+')) &&
          mant < (uint64_t(1) << 53)) {
        static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                            1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
        double v = double(mant) / kPow10[frac];
        *out = neg ? -v : v;
        p_ = q;
        return Status::Ok();
      }
    }
    while (p_ < e_ && (std::isdigit((unsigned char)*p_) || *p_ == '-' || *p_ == '+' || *p_ == '.' || *p_ == 'e' ||
                       *p_ == 'E'))
      ++p_;
    double v = 0;
    auto r = std::from_chars(s, p_, v);
    if (r.ec == std::errc::result_out_of_range) {
      p_ = s;
      return Error(Field(fname) + " is out of range ('" + std::string(s, std::min<size_t>(40, size_t(e_ - s))) + "')");
    }
    if (r.ec != std::errc() || r.ptr != p_) {
      p_ = s;
      return Error(Field(fname) + " is not a valid number");
    }
    if (!std::isfinite(v)) return Error(Field(fname) + " is not finite");
    *out = v;
    return Status::Ok();
  }
  // An integer field: a JSON number with no fraction that fits in [lo, hi].
 Status Integer(int64_t* out, const char* fname, int64_t lo, int64_t hi) {
    double v = 0;
    RINGLAB_RETURN_IF_ERROR(Number(&v, fname));
    if (v != std::floor(v)) return Error(Field(fname) + " must be an integer");
    if (v < double(lo) || v > double(hi))
      return Error(Field(fname) + " = " + std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]");
    *out = int64_t(v);
    return Status::Ok();
  }
  Status Skip(int depth = 0) {
    if (depth > kMaxDepth) return Error("nesting deeper than " + std::to_string(kMaxDepth));
    char c = Peek();
    if (c == '\0' && p_ >= e_) return Error("unexpected end of file (truncated?) where a value was expected");
    if (c == '"') {
      std::string_view v;
      return String(&v, &scratch_);
    }
    if (c == '{') {
      ++p_;
      if (Eat('}')) return Status::Ok();
      for (;;) {
        std::string_view k;
        RINGLAB_RETURN_IF_ERROR(String(&k, &scratch_));
        RINGLAB_RETURN_IF_ERROR(Expect(':', "after an object key"));
        RINGLAB_RETURN_IF_ERROR(Skip(depth + 1));
        if (Eat(',')) continue;
        return Expect('}', "to close an object");
      }
    }
    if (c == '[') {
      ++p_;
      if (Eat(']')) return Status::Ok();
      for (;;) {
        RINGLAB_RETURN_IF_ERROR(Skip(depth + 1));
        if (Eat(',')) continue;
        return Expect(']', "to close an array");
      }
    }
    if (NumberStart()) {
      double v;
      return Number(&v, "value");
    }
    for (const char* lit : {"true", "false", "null"}) {
      size_t n = strlen(lit);
      if (size_t(e_ - p_) >= n && memcmp(p_, lit, n) == 0) {
        p_ += n;
        return Status::Ok();
      }
    }
    return Error(std::string("not JSON: unexpected '") + Printable(c) + "'");
  }
  const char* pos() const { return p_; }
  void set_pos(const char* p) { p_ = p; }
  std::string scratch_;

 private:
  const char* p_;
  const char* b_;
  const char* e_;
  std::string name_;
};

int64_t InternId(std::unordered_map<std::string, int64_t>* ids, std::string_view s) {
  auto [it, inserted] = ids->try_emplace(std::string(s), int64_t(ids->size()) + (int64_t(1) << 40));
  return it->second;
}

// pid/tid: numbers or strings (some tools write "Spans" or "stream 7").
Status ParseId(Scanner& sc, int64_t* out, const char* field, std::unordered_map<std::string, int64_t>* ids) {
  if (sc.Peek() == '"') {
    std::string_view v;
    std::string buf;
    RINGLAB_RETURN_IF_ERROR(sc.String(&v, &buf));
    int64_t n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec == std::errc() && r.ptr == v.data() + v.size()) {
      *out = n;
    } else {
      *out = InternId(ids, v);
    }
    return Status::Ok();
  }
  return sc.Integer(out, field, -(int64_t(1) << 53), int64_t(1) << 53);
}

Status ParseArgs(Scanner& sc, RawEvent* ev) {
  RINGLAB_RETURN_IF_ERROR(sc.Expect('{', "to open", ".args"));
  if (sc.Eat('}')) return Status::Ok();
  std::string kb;
  for (;;) {
    std::string_view k;
    RINGLAB_RETURN_IF_ERROR(sc.String(&k, &kb));
    RINGLAB_RETURN_IF_ERROR(sc.Expect(':', "after a key in", ".args"));
    const bool is_num = sc.NumberStart();
    if (Is(k, "op") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->op, ".args.op", -1, std::numeric_limits<int32_t>::max()));
    } else if (Is(k, "step") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->step, ".args.step", -1, std::numeric_limits<int32_t>::max()));
    } else if (Is(k, "peer") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->peer, ".args.peer", -1, std::numeric_limits<int32_t>::max()));
    } else if (Is(k, "bytes") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->bytes, ".args.bytes", 0, int64_t(1) << 62));
    } else if (Is(k, "flops") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Number(&ev->flops, ".args.flops"));
      if (ev->flops < 0) return sc.Error(sc.Field(".args.flops") + " is negative");
    } else if (Is(k, "sort_index") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->sort_index, ".args.sort_index", INT32_MIN, INT32_MAX));
    } else if (Is(k, "name") && sc.Peek() == '"') {
      RINGLAB_RETURN_IF_ERROR(sc.String(&ev->meta_name, &ev->meta_name_buf));
    } else {
      RINGLAB_RETURN_IF_ERROR(sc.Skip(2));
    }
    if (sc.Eat(',')) continue;
    return sc.Expect('}', "to close", ".args");
  }
}

Status ParseEvent(Scanner& sc, RawEvent* ev, std::unordered_map<std::string, int64_t>* ids) {
  RINGLAB_RETURN_IF_ERROR(sc.Expect('{', "to open an event object", ""));
  if (sc.Eat('}')) return Status::Ok();
  std::string kb;
  for (;;) {
    std::string_view k;
    RINGLAB_RETURN_IF_ERROR(sc.String(&k, &kb));
    RINGLAB_RETURN_IF_ERROR(sc.Expect(':', "after a key in", ""));
    if (Is(k, "ph")) {
      std::string_view v;
      std::string b;
      RINGLAB_RETURN_IF_ERROR(sc.String(&v, &b));
      ev->ph = v.empty() ? '?' : v[0];
    } else if (Is(k, "name")) {
      if (sc.Peek() == '"') {
        RINGLAB_RETURN_IF_ERROR(sc.String(&ev->name, &ev->name_buf));
      } else {
        return sc.Error(sc.Field(".name") + " must be a string");
      }
    } else if (Is(k, "cat")) {
      if (sc.Peek() == '"') {
        RINGLAB_RETURN_IF_ERROR(sc.String(&ev->cat, &ev->cat_buf));
      } else {
        RINGLAB_RETURN_IF_ERROR(sc.Skip(1));
      }
    } else if (Is(k, "pid")) {
      RINGLAB_RETURN_IF_ERROR(ParseId(sc, &ev->pid, ".pid", ids));
      ev->has_pid = true;
    } else if (Is(k, "tid")) {
      RINGLAB_RETURN_IF_ERROR(ParseId(sc, &ev->tid, ".tid", ids));
      ev->has_tid = true;
    } else if (Is(k, "ts")) {
      RINGLAB_RETURN_IF_ERROR(sc.Number(&ev->ts, ".ts"));
      ev->has_ts = true;
    } else if (Is(k, "dur")) {
      RINGLAB_RETURN_IF_ERROR(sc.Number(&ev->dur, ".dur"));
      if (ev->dur < 0) return sc.Error(sc.Field(".dur") + " is negative");
      ev->has_dur = true;
    } else if (Is(k, "args") && sc.Peek() == '{') {
      RINGLAB_RETURN_IF_ERROR(ParseArgs(sc, ev));
    } else {
      RINGLAB_RETURN_IF_ERROR(sc.Skip(1));
    }
    if (sc.Eat(',')) continue;
    return sc.Expect('}', "to close", "");
  }
}

bool ContainsNoCase(std::string_view h, std::string_view n) {
  if (n.empty()) return true;
  auto it = std::search(h.begin(), h.end(), n.begin(), n.end(),
                        [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); });
  return it != h.end();
}

VizKind Classify(std::string_view cat, std::string_view name) {
  if (auto k = ParseOpKind(cat)) return VizKind(*k);
  if (ContainsNoCase(name, "nccl") || ContainsNoCase(cat, "nccl") || ContainsNoCase(name, "c10d::")) {
    if (ContainsNoCase(name, "allgather") || ContainsNoCase(name, "all_gather")) return VizKind::kAllGather;
    if (ContainsNoCase(name, "reducescatter") || ContainsNoCase(name, "reduce_scatter")) return VizKind::kReduceScatter;
    if (ContainsNoCase(name, "send")) return VizKind::kSend;
    if (ContainsNoCase(name, "recv")) return VizKind::kRecv;
    return VizKind::kCommOther;
  }
  if (cat == "gpu_memcpy" || cat == "gpu_memset" || ContainsNoCase(name, "memcpy")) return VizKind::kCopy;
  if (cat == "kernel" || cat == "Kernel" || ContainsNoCase(cat, "gpu")) return VizKind::kKernel;
  return VizKind::kHost;
}

struct Interner {
  std::vector<std::string>* names;
  std::unordered_map<std::string_view, uint32_t> ids;
  std::vector<std::unique_ptr<std::string>> store;
  explicit Interner(std::vector<std::string>* n) : names(n) {
    for (uint32_t i = 0; i < n->size(); ++i) ids.emplace((*n)[i], i);  // views into names; rebuilt below
  }
  uint32_t Get(std::string_view s) {
    auto it = ids.find(s);
    if (it != ids.end()) return it->second;
    store.push_back(std::make_unique<std::string>(s));
    uint32_t id = uint32_t(store.size() - 1);
    ids.emplace(*store.back(), id);
    return id;
  }
};

void ResetRaw(RawEvent& ev) {
  ev.ph = 0;
  ev.has_pid = ev.has_tid = ev.has_ts = ev.has_dur = false;
  ev.pid = ev.tid = 0;
  ev.ts = ev.dur = ev.flops = 0;
  ev.name = ev.cat = ev.meta_name = {};
  ev.name_buf.clear(), ev.cat_buf.clear(), ev.meta_name_buf.clear();
  ev.op = ev.step = ev.peer = -1;
  ev.bytes = ev.sort_index = 0;
}

// Where complete events go: lanes numbered in order of first appearance, names interned.
struct EventSink {
  std::vector<Event>* events;
  std::vector<std::pair<int64_t, int64_t>>* lane_keys;
  Interner* names;
  std::map<std::pair<int64_t, int64_t>, uint32_t> lane_of;
  std::pair<int64_t, int64_t> last_key{INT64_MIN, INT64_MIN};
  uint32_t last_lane = 0;

  uint32_t LaneOf(std::pair<int64_t, int64_t> key) {
    if (key != last_key) {
      auto [it, ins] = lane_of.try_emplace(key, uint32_t(lane_keys->size()));
      if (ins) lane_keys->push_back(key);
      last_key = key;
      last_lane = it->second;
    }
    return last_lane;
  }
  void Add(const RawEvent& ev) {
    Event e;
    e.ts = ev.ts;
    e.dur = ev.dur;
    e.flops = ev.flops;
    e.bytes = ev.bytes;
    e.op = int32_t(ev.op);
    e.step = int32_t(ev.step);
    e.peer = int32_t(ev.peer);
    e.kind = Classify(ev.cat, ev.name);
    e.name = names->Get(ev.name);
    e.lane = LaneOf({ev.pid, ev.tid});
    events->push_back(e);
  }
};

// Parallel parse of a large traceEvents array. The array is cut at guessed element boundaries (a line that starts
// with '{' after a line ending in ','); each piece after the first is parsed speculatively on its own thread into its
// own lanes and names. A piece counts only when the parser before it arrives exactly at its start between two
// elements (so the guess was a real boundary) and it ended exactly at the next piece's start (or at the array's
// ']'). Anything unusual in a piece (metadata, B/E pairs, string ids, a parse error) discards it and the sequential
// parser goes on from there, so results and error messages are those of a plain sequential parse.
struct Chunk {
  const char* start = nullptr;
  const char* stop = nullptr;  // the next piece's start; nullptr for the last piece (runs to ']')
  std::vector<Event> events;
  std::vector<std::pair<int64_t, int64_t>> lane_keys;
  std::vector<std::string> no_names;
  Interner names{&no_names};
  size_t count = 0;           // array elements parsed
  const char* end = nullptr;  // where the piece ended (stop, or after ']' / at the end of the data)
  bool ok = false;
};

constexpr size_t kParallelMinBytes = size_t(4) << 20;

std::vector<std::unique_ptr<Chunk>> PlanChunks(const char* b, const char* e) {
  std::vector<std::unique_ptr<Chunk>> chunks;
  const size_t n = size_t(e - b);
  const unsigned hw = std::thread::hardware_concurrency();
  const size_t parts = std::min<size_t>({hw ? hw : 1, 8, n / kParallelMinBytes + 1});
  const char* prev = b;
  for (size_t k = 1; k < parts; ++k) {
    const char* p = b + n * k / parts;
    const char* found = nullptr;
    for (int tries = 0; tries < 4096 && p < e && !found; ++tries) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', size_t(e - p)));
      if (!nl) break;
      const char* q = nl + 1;
      while (q < e && (*q == ' ' || *q == '\t' || *q == '\r')) ++q;
      const char* r = nl;
      while (r > prev && (r[-1] == ' ' || r[-1] == '\t' || r[-1] == '\r' || r[-1] == '\n')) --r;
      if (q < e && *q == '{' && r > prev && r[-1] == ',') found = q;
      p = nl + 1;
    }
    if (!found || found <= prev) break;
    auto c = std::make_unique<Chunk>();
    c->start = found;
    if (!chunks.empty()) chunks.back()->stop = found;
    chunks.push_back(std::move(c));
    prev = found;
  }
  return chunks;
}

void ParseChunk(std::string_view data, const std::string& name, bool allow_eof, Chunk* c,
                const std::atomic<bool>* cancel) {
  Scanner sc(data, name);
  sc.set_pos(c->start);
  c->events.reserve(size_t((c->stop ? c->stop : data.data() + data.size()) - c->start) / 160 + 16);
  EventSink sink{&c->events, &c->lane_keys, &c->names};
  std::unordered_map<std::string, int64_t> ids;
  RawEvent ev;
  for (;;) {
    if ((c->count & 1023) == 0 && cancel->load(std::memory_order_relaxed)) return;
    ResetRaw(ev);
    if (!ParseEvent(sc, &ev, &ids).ok() || !ids.empty()) return;
    if (ev.ph == 'M' || ev.ph == 'B' || ev.ph == 'E') return;
    if (ev.ph == 'X') {
      if (!ev.has_ts) return;
      sink.Add(ev);
    }
    ++c->count;
    if (!sc.Eat(',')) {
      if (c->stop) return;
      if (sc.Eat(']') || (allow_eof && sc.AtEnd())) c->end = sc.pos(), c->ok = true;
      return;
    }
    if (allow_eof && !c->stop && sc.AtEnd()) {
      c->end = sc.pos(), c->ok = true;
      return;
    }
    if (c->stop) {
      sc.Ws();
      if (sc.pos() == c->stop) {
        c->end = sc.pos(), c->ok = true;
        return;
      }
      if (sc.pos() > c->stop) return;
    }
  }
}

// Appends a piece's events, renumbering its lanes and names into the file's (same order as a sequential parse).
void MergeChunk(Chunk& c, EventSink& sink) {
  std::vector<uint32_t> lane_map(c.lane_keys.size()), name_map(c.names.store.size());
  for (size_t i = 0; i < c.lane_keys.size(); ++i) lane_map[i] = sink.LaneOf(c.lane_keys[i]);
  for (size_t i = 0; i < c.names.store.size(); ++i) name_map[i] = sink.names->Get(*c.names.store[i]);
  sink.events->reserve(sink.events->size() + c.events.size());
  for (Event e : c.events) {
    e.lane = lane_map[e.lane];
    e.name = name_map[e.name];
    sink.events->push_back(e);
  }
  std::vector<Event>().swap(c.events);
}

Status ParseFile(std::string_view data, const std::string& name, FileEvents* fe, Interner* names) {
  Scanner sc(data, name);
  std::unordered_map<std::string, int64_t> ids;
  std::string_view ringlab_raw;
  std::map<std::pair<int64_t, int64_t>, std::vector<std::pair<RawEvent, size_t>>> open_b;  // B/E stacks
  EventSink sink{&fe->events, &fe->lane_keys, names};
  size_t index = 0;

  auto add = [&](RawEvent& ev) -> Status {
    if (ev.ph == 'M') {
      if (ev.name == "process_name" && !ev.meta_name.empty()) fe->process_names[ev.pid] = std::string(ev.meta_name);
      if (ev.name == "thread_name" && !ev.meta_name.empty())
        fe->thread_names[{ev.pid, ev.tid}] = std::string(ev.meta_name);
      return Status::Ok();
    }
    if (ev.ph == 'B') {
      if (!ev.has_ts) return sc.Error(sc.Field("") + " (ph B) has no ts");
      open_b[{ev.pid, ev.tid}].push_back({ev, index});
      return Status::Ok();
    }
    if (ev.ph == 'E') {
      auto& st = open_b[{ev.pid, ev.tid}];
      if (st.empty() || !ev.has_ts) return Status::Ok();  // unmatched end: ignored, as chrome://tracing does
      RawEvent b = std::move(st.back().first);
      st.pop_back();
      b.ph = 'X';
      b.dur = std::max(0.0, ev.ts - b.ts);
      b.has_dur = true;
      ev = std::move(b);
      // Views into a moved string's own buffer would dangle: point them at ev's copies.
      if (!ev.name_buf.empty()) ev.name = ev.name_buf;
      if (!ev.cat_buf.empty()) ev.cat = ev.cat_buf;
    }
    if (ev.ph != 'X') return Status::Ok();  // instants, counters, flows: not drawn
    if (!ev.has_ts) return sc.Error(sc.Field("") + " has no ts");
    sink.Add(ev);
    return Status::Ok();
  };

  auto parse_events = [&](bool allow_eof) -> Status {
    // at '[' already consumed
    if (sc.Eat(']')) return Status::Ok();
    // Large arrays: pieces after the first parse on other threads while this one parses the first.
    std::vector<std::unique_ptr<Chunk>> chunks;
    if (size_t(data.data() + data.size() - sc.pos()) >= 2 * kParallelMinBytes)
      chunks = PlanChunks(sc.pos(), data.data() + data.size());
    std::atomic<bool> cancel{false};
    std::vector<std::thread> threads;
    struct Joiner {
      std::atomic<bool>* cancel;
      std::vector<std::thread>* threads;
      ~Joiner() {
        cancel->store(true);
        for (auto& t : *threads)
          if (t.joinable()) t.join();
      }
    } joiner{&cancel, &threads};
    for (auto& c : chunks)
      threads.emplace_back(ParseChunk, data, std::cref(name), allow_eof, c.get(), &cancel);
    size_t next = 0;  // next piece to take over
    auto give_up = [&] {
      cancel.store(true);
      for (auto& t : threads)
        if (t.joinable()) t.join();
      threads.clear();
      next = chunks.size();
    };
    RawEvent ev;
    for (;;) {
      if (allow_eof && sc.AtEnd()) return Status::Ok();  // the JSON Array Format may omit the closing ']'
      if (next < chunks.size()) {
        sc.Ws();
        if (sc.pos() == chunks[next]->start) {
          threads[next].join();
          Chunk& c = *chunks[next];
          if (c.ok) {
            MergeChunk(c, sink);
            index += c.count;
            sc.set_pos(c.end);
            ++next;
            if (!c.stop) return Status::Ok();  // the last piece ended the array
            continue;
          }
          give_up();
        } else if (sc.pos() > chunks[next]->start) {
          give_up();
        }
      }
      ResetRaw(ev);
      sc.event_index = int64_t(index);
      RINGLAB_RETURN_IF_ERROR(ParseEvent(sc, &ev, &ids));
      RINGLAB_RETURN_IF_ERROR(add(ev));
      sc.event_index = -1;
      ++index;
      if (sc.Eat(',')) continue;
      if (allow_eof && sc.AtEnd()) return Status::Ok();
      return sc.Expect(']', "to close traceEvents");
    }
  };

  fe->events.reserve(data.size() / 180 + 16);
  char c = sc.Peek();
  if (c == '[') {
    sc.Eat('[');
    RINGLAB_RETURN_IF_ERROR(parse_events(true));
  } else if (c == '{') {
    sc.Eat('{');
    bool have_events = false;
    if (!sc.Eat('}')) {
      std::string kb;
      for (;;) {
        std::string_view k;
        RINGLAB_RETURN_IF_ERROR(sc.String(&k, &kb));
        std::string key(k);
        RINGLAB_RETURN_IF_ERROR(sc.Expect(':', "after a top-level key"));
        if (key == "traceEvents") {
          RINGLAB_RETURN_IF_ERROR(sc.Expect('[', "traceEvents must be an array"));
          RINGLAB_RETURN_IF_ERROR(parse_events(false));
          have_events = true;
        } else if (key == "ringlab") {
          if (sc.Peek() != '{') return sc.Error("ringlab metadata must be an object");
          const char* s = sc.pos();
          RINGLAB_RETURN_IF_ERROR(sc.Skip(1));
          ringlab_raw = std::string_view(s, size_t(sc.pos() - s));
        } else if (key == "distributedInfo" && sc.Peek() == '{') {
          sc.Eat('{');
          if (!sc.Eat('}')) {
            for (;;) {
              std::string_view dk;
              std::string dkb;
              RINGLAB_RETURN_IF_ERROR(sc.String(&dk, &dkb));
              RINGLAB_RETURN_IF_ERROR(sc.Expect(':', "in distributedInfo"));
              if (Is(dk, "rank") && sc.NumberStart()) {
                RINGLAB_RETURN_IF_ERROR(sc.Integer(&fe->dist_rank, "distributedInfo.rank", 0, 1 << 24));
                fe->has_dist_rank = true;
              } else {
                RINGLAB_RETURN_IF_ERROR(sc.Skip(2));
              }
              if (sc.Eat(',')) continue;
              RINGLAB_RETURN_IF_ERROR(sc.Expect('}', "to close distributedInfo"));
              break;
            }
          }
        } else {
          RINGLAB_RETURN_IF_ERROR(sc.Skip(1));
        }
        if (sc.Eat(',')) continue;
        RINGLAB_RETURN_IF_ERROR(sc.Expect('}', "to close the top-level object"));
        break;
      }
    }
    if (!sc.AtEnd()) return sc.Error("unexpected data after the top-level object");
    if (!have_events) return Status::InvalidArgument("trace file '" + name + "': traceEvents is missing");
  } else if (sc.AtEnd()) {
    return Status::InvalidArgument("trace file '" + name + "' is empty");
  } else {
    return sc.Error("not a JSON trace: expected '{' or '['");
  }

  fe->info.path = name;
  fe->info.format = "chrome";
  if (!ringlab_raw.empty()) {
    nlohmann::json m = nlohmann::json::parse(ringlab_raw, nullptr, false);
    const std::string where = "trace file '" + name + "': ";
    if (m.is_discarded() || !m.is_object()) return Status::InvalidArgument(where + "ringlab metadata is not valid JSON");
    try {
      fe->info.meta.version = m.at("version").get<int>();
      fe->info.meta.source = m.value("source", "");
      fe->info.meta.hardware = m.value("hardware", "");
      fe->info.meta.schedule_op_count = m.value("schedule_op_count", int64_t(0));
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(where + "ringlab.version/source/hardware: " + e.what());
    }
    if (fe->info.meta.version != kTraceFormatVersion)
      return Status::InvalidArgument(where + "ringlab.version " + std::to_string(fe->info.meta.version) +
                                     " (this viewer reads " + std::to_string(kTraceFormatVersion) + ")");
    Status cs = FromJson(m, &fe->info.meta.config);
    fe->info.has_config = cs.ok();
    if (!cs.ok()) return Status::InvalidArgument(where + "ringlab metadata: " + cs.message());
    fe->info.ringlab = true;
    fe->info.format = "ringlab";
    const int world = fe->info.meta.config.world;
    for (size_t i = 0; i < fe->events.size(); ++i) {
      int64_t pid = fe->lane_keys[fe->events[i].lane].first;
      if (pid < 0 || pid >= world)
        return Status::InvalidArgument(where + "an event has pid " + std::to_string(pid) + ", not a rank in 0.." +
                                       std::to_string(world - 1));
    }
  }
  fe->info.event_count = int64_t(fe->events.size());
  return Status::Ok();
}

void Finalize(std::vector<FileEvents>& files, std::vector<std::string> names, TraceModel* out) {
  TraceModel m;
  m.names = std::move(names);
  // Lanes.
  struct LaneKey {
    int rank;
    int file;
    int64_t pid, tid;
    uint32_t local;
  };
  std::vector<LaneKey> keys;
  const bool multi = files.size() > 1;
  for (int f = 0; f < int(files.size()); ++f) {
    const FileEvents& fe = files[f];
    for (uint32_t l = 0; l < fe.lane_keys.size(); ++l) {
      auto [pid, tid] = fe.lane_keys[l];
      int rank;
      if (fe.info.ringlab) rank = int(pid);
      else if (fe.has_dist_rank) rank = int(fe.dist_rank);
      else if (multi) rank = f;
      else rank = int(std::clamp<int64_t>(pid, INT32_MIN, INT32_MAX));
      keys.push_back({rank, f, pid, tid, l});
    }
  }
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const LaneKey& x = keys[a];
    const LaneKey& y = keys[b];
    return std::tie(x.rank, x.file, x.pid, x.tid) < std::tie(y.rank, y.file, y.pid, y.tid);
  });
  std::vector<std::vector<uint32_t>> global_lane(files.size());
  for (size_t f = 0; f < files.size(); ++f) global_lane[f].resize(files[f].lane_keys.size());
  for (size_t gi = 0; gi < order.size(); ++gi) {
    const LaneKey& k = keys[order[gi]];
    const FileEvents& fe = files[k.file];
    Lane lane;
    lane.rank = k.rank;
    lane.file = k.file;
    lane.pid = k.pid;
    lane.tid = k.tid;
    if (fe.info.ringlab) {
      lane.stream = int(k.tid);
      lane.name = "rank " + std::to_string(k.rank) + " " +
                  (k.tid == 0 ? "compute" : k.tid == 1 ? "comm" : "stream " + std::to_string(k.tid));
      // Several ringlab runs side by side: say which run a lane belongs to.
      if (multi) lane.name = std::string(MethodName(fe.info.meta.config.method)) + " " + fe.info.meta.source + " " +
                             lane.name.substr(5);
    } else {
      auto tn = fe.thread_names.find({k.pid, k.tid});
      auto pn = fe.process_names.find(k.pid);
      std::string p = pn != fe.process_names.end() ? pn->second : "pid " + std::to_string(k.pid);
      std::string t = tn != fe.thread_names.end() ? tn->second : "tid " + std::to_string(k.tid);
      lane.name = "r" + std::to_string(k.rank) + " " + p + " / " + t;
    }
    global_lane[k.file][k.local] = uint32_t(gi);
    m.lanes.push_back(std::move(lane));
  }
  // Counting sort of events into lanes, keeping file order within a lane.
  std::vector<uint32_t> counts(m.lanes.size() + 1, 0);
  size_t total = 0;
  for (auto& fe : files) {
    for (Event& e : fe.events) {
      e.lane = global_lane[&fe - files.data()][e.lane];
      ++counts[e.lane + 1];
    }
    total += fe.events.size();
  }
  for (size_t i = 1; i < counts.size(); ++i) counts[i] += counts[i - 1];
  for (size_t l = 0; l < m.lanes.size(); ++l) m.lanes[l].begin = counts[l], m.lanes[l].end = counts[l + 1];
  bool grouped = files.size() == 1;  // one file already in lane order (ringlab writers group by rank, stream)
  if (grouped)
    for (size_t i = 1; i < files[0].events.size() && grouped; ++i)
      grouped = files[0].events[i - 1].lane <= files[0].events[i].lane;
  if (grouped) {
    m.events = std::move(files[0].events);
  } else {
    m.events.resize(total);
    std::vector<uint32_t> pos(counts.begin(), counts.end() - 1);
    for (auto& fe : files) {
      for (const Event& e : fe.events) m.events[pos[e.lane]++] = e;
      std::vector<Event>().swap(fe.events);
    }
  }
  // Sort each lane by (ts, longer first), then depth and running max end.
  m.max_end.resize(total);
  m.t_min = total ? std::numeric_limits<double>::infinity() : 0;
  m.t_max = total ? -std::numeric_limits<double>::infinity() : 0;
  std::vector<double> stack;
  for (Lane& lane : m.lanes) {
    auto b = m.events.begin() + lane.begin, e = m.events.begin() + lane.end;
    auto less = [](const Event& x, const Event& y) { return x.ts < y.ts || (x.ts == y.ts && x.dur > y.dur); };
    if (!std::is_sorted(b, e, less)) std::stable_sort(b, e, less);
    stack.clear();
    double mx = -std::numeric_limits<double>::infinity();
    for (uint32_t i = lane.begin; i < lane.end; ++i) {
      Event& ev = m.events[i];
      // Ops that overlap by under a picosecond only touch: ts and dur are written as rounded decimals, so
      // ts + dur of one op can exceed the next op's ts by an ulp.
      constexpr double kTouchUs = 1e-6;
      while (!stack.empty() && stack.back() <= ev.ts + kTouchUs) stack.pop_back();
      ev.depth = uint8_t(std::min<size_t>(stack.size(), 15));
      lane.max_depth = std::max<int>(lane.max_depth, ev.depth);
      stack.push_back(ev.End());
      mx = std::max(mx, ev.End());
      m.max_end[i] = mx;
      m.t_min = std::min(m.t_min, ev.ts);
      m.t_max = std::max(m.t_max, ev.End());
    }
  }
  for (const Lane& l : m.lanes)
    if (m.ranks.empty() || m.ranks.back() != l.rank) m.ranks.push_back(l.rank);
  // (rank, op) index for ringlab lanes.
  std::map<int, int64_t> max_op, count;
  for (const Lane& l : m.lanes) {
    if (!files[l.file].info.ringlab) continue;
    int64_t mo = -1;
    for (uint32_t i = l.begin; i < l.end; ++i) mo = std::max<int64_t>(mo, m.events[i].op);
    auto [it, ins] = max_op.try_emplace(l.rank, mo);
    if (!ins) it->second = std::max(it->second, mo);
    count[l.rank] += l.end - l.begin;
  }
  for (auto [rank, mo] : max_op) {
    if (mo < 0 || mo > 16 * count[rank] + 1024) continue;
    m.op_index[rank].assign(size_t(mo + 1), -1);
  }
  for (const Lane& l : m.lanes) {
    auto it = m.op_index.find(l.rank);
    if (it == m.op_index.end() || !files[l.file].info.ringlab) continue;
    for (uint32_t i = l.begin; i < l.end; ++i)
      if (m.events[i].op >= 0) it->second[size_t(m.events[i].op)] = int32_t(i);
  }
  for (auto& fe : files) m.files.push_back(std::move(fe.info));
  *out = std::move(m);
}

Status LoadBuffers(const std::vector<std::pair<std::string, std::string_view>>& inputs,
                   std::vector<std::string>* buffers_to_free, TraceModel* out) {
  std::vector<FileEvents> files(inputs.size());
  std::vector<std::string> dummy;
  Interner names(&dummy);
  for (size_t i = 0; i < inputs.size(); ++i) {
    RINGLAB_RETURN_IF_ERROR(ParseFile(inputs[i].second, inputs[i].first, &files[i], &names));
    if (buffers_to_free && i < buffers_to_free->size()) std::string().swap((*buffers_to_free)[i]);
  }
  std::vector<std::string> name_list;
  name_list.reserve(names.store.size());
  for (auto& s : names.store) name_list.push_back(std::move(*s));
  Finalize(files, std::move(name_list), out);
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
}  // namespace

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

void ModelFromTrace(const Trace& trace, TraceModel* out, const std::string& name) {
  std::vector<FileEvents> files(1);
  FileEvents& fe = files[0];
  fe.info.path = name;
  fe.info.ringlab = true;
  fe.info.has_config = true;
  fe.info.format = "ringlab";
  fe.info.meta = trace.meta;
  std::vector<std::string> dummy;
  Interner names(&dummy);
  std::map<std::pair<int64_t, int64_t>, uint32_t> lane_of;
  for (const TraceEvent& t : trace.events) {
    Event e;
    e.ts = t.ts_us;
    e.dur = t.dur_us;
    e.flops = t.flops;
    e.bytes = t.bytes;
    e.op = t.op;
    e.step = t.step;
    e.peer = t.peer;
    e.kind = VizKind(t.kind);
    e.name = names.Get(EventName(t));
    auto [it, ins] = lane_of.try_emplace({t.rank, t.stream}, uint32_t(fe.lane_keys.size()));
    if (ins) fe.lane_keys.push_back({t.rank, t.stream});
    e.lane = it->second;
    fe.events.push_back(e);
  }
  fe.info.event_count = int64_t(fe.events.size());
  std::vector<std::string> name_list;
  for (auto& s : names.store) name_list.push_back(std::move(*s));
  Finalize(files, std::move(name_list), out);
}

}  // namespace ringlab::viz
