#include "viz/loader/file_parser.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/config_json.h"
#include "viz/loader/chrome_event.h"
#include "viz/loader/json_scanner.h"
#include "viz/loader/parallel_parse.h"

namespace ringlab::viz::loader {
namespace {

class FileParser {
 public:
  FileParser(std::string_view data, const std::string& name, FileEvents* fe, Interner* names)
      : data_(data), name_(name), fe_(fe), sc_(data, name), sink_{&fe->events, &fe->lane_keys, names, &fe->extras} {}

  Status Parse() {
    fe_->events.reserve(data_.size() / 180 + 16);
    char c = sc_.Peek();
    if (c == '[') {
      sc_.Eat('[');
      RINGLAB_RETURN_IF_ERROR(ParseEventArray(true));
    } else if (c == '{') {
      sc_.Eat('{');
      RINGLAB_RETURN_IF_ERROR(ParseTopLevelObject());
    } else if (sc_.AtEnd()) {
      return Status::InvalidArgument("trace file '" + name_ + "' is empty");
    } else {
      return sc_.Error("not a JSON trace: expected '{' or '['");
    }
    // Pieces parsed in parallel (parallel_parse.h) each checked their own counter series; together they may not fit.
    RINGLAB_RETURN_IF_ERROR(fe_->extras.CheckSeriesBudget(name_));
    fe_->info.path = name_;
    fe_->info.format = "chrome";
    if (!ringlab_raw_.empty()) RINGLAB_RETURN_IF_ERROR(ApplyRinglabMetadata());
    fe_->info.event_count = int64_t(fe_->events.size());
    fe_->ts_origin = sink_.origin;
    for (const auto& [text, id] : ids_) fe_->id_names[id] = text;
    return Status::Ok();
  }

 private:
  // After the opening '{': the top-level keys, up to the end of the data.
  Status ParseTopLevelObject() {
    bool have_events = false;
    if (!sc_.Eat('}')) {
      std::string kb;
      for (;;) {
        std::string_view k;
        RINGLAB_RETURN_IF_ERROR(sc_.String(&k, &kb));
        std::string key(k);
        RINGLAB_RETURN_IF_ERROR(sc_.Expect(':', "after a top-level key"));
        if (key == "traceEvents") {
          RINGLAB_RETURN_IF_ERROR(sc_.Expect('[', "traceEvents must be an array"));
          RINGLAB_RETURN_IF_ERROR(ParseEventArray(false));
          have_events = true;
        } else if (key == "ringlab") {
          // Kept raw and read after the events (a small object; nlohmann gives its errors).
          if (sc_.Peek() != '{') return sc_.Error("ringlab metadata must be an object");
          const char* s = sc_.pos();
          RINGLAB_RETURN_IF_ERROR(sc_.Skip(1));
          ringlab_raw_ = std::string_view(s, size_t(sc_.pos() - s));
        } else if (key == "distributedInfo" && sc_.Peek() == '{') {
          RINGLAB_RETURN_IF_ERROR(ParseDistributedInfo());
        } else {
          RINGLAB_RETURN_IF_ERROR(sc_.Skip(1));
        }
        if (sc_.Eat(',')) continue;
        RINGLAB_RETURN_IF_ERROR(sc_.Expect('}', "to close the top-level object"));
        break;
      }
    }
    if (!sc_.AtEnd()) return sc_.Error("unexpected data after the top-level object");
    if (!have_events) return Status::InvalidArgument("trace file '" + name_ + "': traceEvents is missing");
    return Status::Ok();
  }

  // PyTorch profiler exports: {"rank": N, ...} gives the file's rank.
  Status ParseDistributedInfo() {
    sc_.Eat('{');
    if (sc_.Eat('}')) return Status::Ok();
    for (;;) {
      std::string_view dk;
      std::string dkb;
      RINGLAB_RETURN_IF_ERROR(sc_.String(&dk, &dkb));
      RINGLAB_RETURN_IF_ERROR(sc_.Expect(':', "in distributedInfo"));
      if (KeyIs(dk, "rank") && sc_.NumberStart()) {
        RINGLAB_RETURN_IF_ERROR(sc_.Integer(&fe_->dist_rank, "distributedInfo.rank", 0, 1 << 24));
        fe_->has_dist_rank = true;
        fe_->info.has_rank = true;
      } else if (KeyIs(dk, "run_id") && sc_.Peek() == '"') {
        std::string_view v;
        std::string vb;
        RINGLAB_RETURN_IF_ERROR(sc_.String(&v, &vb));
        fe_->info.run_id = std::string(v);
      } else {
        RINGLAB_RETURN_IF_ERROR(sc_.Skip(2));
      }
      if (sc_.Eat(',')) continue;
      return sc_.Expect('}', "to close distributedInfo");
    }
  }

  // After the array's '['. Large arrays: pieces after the first parse on other threads while this one parses the
  // first (parallel_parse.h).
  Status ParseEventArray(bool allow_eof) {
    if (sc_.Eat(']')) return Status::Ok();
    ParallelPieces pieces;
    pieces.Start(data_, name_, sc_.pos(), allow_eof);
    RawEvent ev;
    for (;;) {
      if (allow_eof && sc_.AtEnd()) return Status::Ok();  // the JSON Array Format may omit the closing ']'
      const ParallelPieces::Step step = pieces.TakeOver(sc_, sink_, &index_);
      if (step == ParallelPieces::Step::kArrayDone) return Status::Ok();
      if (step == ParallelPieces::Step::kMerged) continue;
      ResetRaw(ev);
      sc_.event_index = int64_t(index_);
      RINGLAB_RETURN_IF_ERROR(ParseEvent(sc_, &ev, &ids_));
      RINGLAB_RETURN_IF_ERROR(AddEvent(ev));
      sc_.event_index = -1;
      ++index_;
      if (sc_.Eat(',')) continue;
      if (allow_eof && sc_.AtEnd()) return Status::Ok();
      return sc_.Expect(']', "to close traceEvents");
    }
  }

  // Metadata names lanes; B/E pairs on one (pid, tid) become a complete event; complete events go to the sink.
  Status AddEvent(RawEvent& ev) {
    if (ev.ph == 'M') {
      if (ev.name == "process_name" && !ev.meta_name.empty()) fe_->process_names[ev.pid] = std::string(ev.meta_name);
      if (ev.name == "thread_name" && !ev.meta_name.empty())
        fe_->thread_names[{ev.pid, ev.tid}] = std::string(ev.meta_name);
      return Status::Ok();
    }
    if (ev.ph == 'B') {
      if (!ev.has_ts) return sc_.Error(sc_.Field("") + " (ph B) has no ts");
      open_b_[{ev.pid, ev.tid}].push_back({ev, index_});
      return Status::Ok();
    }
    if (ev.ph == 'E') {
      auto& st = open_b_[{ev.pid, ev.tid}];
      if (st.empty() || !ev.has_ts) return Status::Ok();  // unmatched end: ignored, as chrome://tracing does
      RawEvent b = std::move(st.back().first);
      st.pop_back();
      b.ph = 'X';
      b.dur = std::max(0.0, ev.ts.Minus(b.ts.whole) - b.ts.frac);
      b.has_dur = true;
      ev = std::move(b);
      // Views into a moved string's own buffer would dangle: point them at ev's copies.
      if (!ev.name_buf.empty()) ev.name = ev.name_buf;
      if (!ev.cat_buf.empty()) ev.cat = ev.cat_buf;
    }
    if (ev.ph == 's' || ev.ph == 't' || ev.ph == 'f') {
      sink_.AddFlow(ev);  // bound to slices by the trace builder
      return Status::Ok();
    }
    if (ev.ph == 'C') return sink_.AddCounter(ev, name_);
    if (ev.ph != 'X') return Status::Ok();  // instants and the rest: not drawn
    if (!ev.has_ts) return sc_.Error(sc_.Field("") + " has no ts");
    sink_.Add(ev);
    return Status::Ok();
  }

  // The "ringlab" object: format version, source, hardware and the schedule config; every pid must be a rank.
  Status ApplyRinglabMetadata() {
    nlohmann::json m = nlohmann::json::parse(ringlab_raw_, nullptr, false);
    const std::string where = "trace file '" + name_ + "': ";
    if (m.is_discarded() || !m.is_object()) return Status::InvalidArgument(where + "ringlab metadata is not valid JSON");
    TraceMeta& meta = fe_->info.meta;
    RINGLAB_RETURN_IF_ERROR(CheckTraceMetaNumbers(m, where));
    try {
      meta.version = m.at("version").get<int>();
      meta.source = m.value("source", "");
      meta.hardware = m.value("hardware", "");
      meta.schedule_op_count = m.value("schedule_op_count", int64_t(0));
      if (m.contains("run_id") && m["run_id"].is_string()) fe_->info.run_id = m["run_id"].get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(where + "ringlab.version/source/hardware: " + e.what());
    }
    Status cs = FromJson(m, &meta.config);
    fe_->info.has_config = cs.ok();
    if (!cs.ok()) return Status::InvalidArgument(where + "ringlab metadata: " + cs.message());
    fe_->info.ringlab = true;
    fe_->info.format = "ringlab";
    // Every lane (of complete events and of flow events) and every counter: pid a rank, tid a track of this version
    // (core/trace.h). Lanes are drawn under int(pid), so pid 2^32 would land on rank 0 and pid 77 of a world of 4
    // would add a rank that does not exist; a tid outside the tracks would be drawn as the comm stream.
    const int world = meta.config.world;
    const int64_t first_tid = meta.version >= 2 ? kFirstTraceTrack : 0;
    const int64_t last_tid = meta.version >= 2 ? kLastTraceTrack : 1;
    for (const auto& [pid, tid] : fe_->lane_keys) {
      if (pid < 0 || pid >= world)
        return Status::InvalidArgument(where + "an event has pid " + std::to_string(pid) + ", not a rank in 0.." +
                                       std::to_string(world - 1));
      if (tid < first_tid || tid > last_tid)
        return Status::InvalidArgument(where + "an event has tid " + std::to_string(tid) + ", not a track in " +
                                       std::to_string(first_tid) + ".." + std::to_string(last_tid) +
                                       " (ringlab.version " + std::to_string(meta.version) + ")");
    }
    // (rank, args.op) is an op's identity: an op drawn twice would count twice in the statistics, and the op index,
    // compare and the dependency arrows would see only one of them.
    std::vector<uint64_t> ops;
    for (const Event& e : fe_->events)
      if (e.op >= 0) ops.push_back(uint64_t(uint32_t(fe_->lane_keys[e.lane].first)) << 32 | uint32_t(e.op));
    std::sort(ops.begin(), ops.end());
    if (auto d = std::adjacent_find(ops.begin(), ops.end()); d != ops.end())
      return Status::InvalidArgument(where + "op " + std::to_string(*d & UINT32_MAX) + " of rank " +
                                     std::to_string(*d >> 32) + " appears twice ((rank, args.op) is an op's identity: "
                                     "each is written once)");
    for (const CounterKey& k : fe_->extras.counter_keys)
      if (k.pid < 0 || k.pid >= world)
        return Status::InvalidArgument(where + "counter '" + k.name + "' has pid " + std::to_string(k.pid) +
                                       ", not a rank in 0.." + std::to_string(world - 1));
    return Status::Ok();
  }

  std::string_view data_;
  const std::string& name_;
  FileEvents* fe_;
  JsonScanner sc_;
  EventSink sink_;
  StringIds ids_;
  std::string_view ringlab_raw_;
  std::map<LaneKey, std::vector<std::pair<RawEvent, size_t>>> open_b_;  // B/E stacks per (pid, tid)
  size_t index_ = 0;                                                  // traceEvents element being read
};

}  // namespace

Status ParseFile(std::string_view data, const std::string& name, FileEvents* fe, Interner* names) {
  return FileParser(data, name, fe, names).Parse();
}

}  // namespace ringlab::viz::loader
