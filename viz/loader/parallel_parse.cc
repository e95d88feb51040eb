#include "viz/loader/parallel_parse.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "viz/loader/chrome_event.h"

namespace ringlab::viz::loader {

// One piece of the array, parsed on its own thread into its own lanes and names.
struct Chunk {
  const char* start = nullptr;
  const char* stop = nullptr;  // the next piece's start; nullptr for the last piece (runs to ']')
  std::vector<Event> events;
  std::vector<LaneKey> lane_keys;
  Interner names;
  FileExtras extras;  // flows and counters of the piece
  size_t count = 0;           // array elements parsed
  const char* end = nullptr;  // where the piece ended (stop, or after ']' / at the end of the data)
  bool ok = false;
  bool has_origin = false;
  int64_t origin = 0;  // the piece's own ts origin (EventSink::origin)
};

namespace {

std::vector<std::unique_ptr<Chunk>> PlanChunks(const char* b, const char* e) {
  std::vector<std::unique_ptr<Chunk>> chunks;
  const size_t n = size_t(e - b);
  const unsigned hw = std::thread::hardware_concurrency();
  const size_t parts = std::min<size_t>({hw ? hw : 1, 8, n / ParallelPieces::kParallelMinBytes + 1});
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
  JsonScanner sc(data, name);
  sc.set_pos(c->start);
  c->events.reserve(size_t((c->stop ? c->stop : data.data() + data.size()) - c->start) / 160 + 16);
  EventSink sink{&c->events, &c->lane_keys, &c->names, &c->extras};
  StringIds ids;
  RawEvent ev;
  for (;;) {
    if ((c->count & 1023) == 0 && cancel->load(std::memory_order_relaxed)) return;
    ResetRaw(ev);
    if (!ParseEvent(sc, &ev, &ids).ok() || !ids.empty()) return;
    if (ev.ph == 'M' || ev.ph == 'B' || ev.ph == 'E') return;
    if (ev.ph == 'X') {
      if (!ev.has_ts) return;
      sink.Add(ev);
    } else if (ev.ph == 's' || ev.ph == 't' || ev.ph == 'f') {
      sink.AddFlow(ev);
    } else if (ev.ph == 'C') {
      if (!sink.AddCounter(ev, name).ok()) return;  // the sequential parse gives the message
    }
    ++c->count;
    c->has_origin = sink.has_origin, c->origin = sink.origin;
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
  if (!sink.has_origin && c.has_origin) sink.has_origin = true, sink.origin = c.origin;
  const double shift = double(__int128(c.origin) - sink.origin);  // the piece's clock onto the file's
  for (Event e : c.events) {
    e.lane = lane_map[e.lane];
    e.name = name_map[e.name];
    e.ts += shift;
    sink.events->push_back(e);
  }
  std::vector<Event>().swap(c.events);
  if (!sink.extras) return;
  for (FlowPoint p : c.extras.flows) {
    p.lane = lane_map[p.lane];
    p.ts += shift;
    sink.extras->flows.push_back(p);
  }
  for (CounterSample cs : c.extras.counters) {
    const CounterKey& k = c.extras.counter_keys[cs.series];
    cs.series = sink.extras->SeriesOf(k.pid, k.name);
    cs.ts += shift;
    sink.extras->counters.push_back(cs);
  }
}

}  // namespace

ParallelPieces::ParallelPieces() = default;

ParallelPieces::~ParallelPieces() {
  cancel_.store(true);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void ParallelPieces::Start(std::string_view data, const std::string& name, const char* from, bool allow_eof) {
  if (size_t(data.data() + data.size() - from) >= 2 * kParallelMinBytes)
    chunks_ = PlanChunks(from, data.data() + data.size());
  for (auto& c : chunks_) threads_.emplace_back(ParseChunk, data, std::cref(name), allow_eof, c.get(), &cancel_);
}

void ParallelPieces::GiveUp() {
  cancel_.store(true);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  next_ = chunks_.size();
}

ParallelPieces::Step ParallelPieces::TakeOver(JsonScanner& sc, EventSink& sink, size_t* index) {
  if (next_ >= chunks_.size()) return Step::kParseOne;
  sc.Ws();
  if (sc.pos() == chunks_[next_]->start) {
    threads_[next_].join();
    Chunk& c = *chunks_[next_];
    if (c.ok) {
      MergeChunk(c, sink);
      *index += c.count;
      sc.set_pos(c.end);
      ++next_;
      return c.stop ? Step::kMerged : Step::kArrayDone;
    }
    GiveUp();
  } else if (sc.pos() > chunks_[next_]->start) {
    GiveUp();
  }
  return Step::kParseOne;
}

}  // namespace ringlab::viz::loader
