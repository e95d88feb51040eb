#include "viz/loader/chrome_event.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>

namespace ringlab::viz::loader {
namespace {

int64_t InternId(StringIds* ids, std::string_view s) {
  auto [it, inserted] = ids->try_emplace(std::string(s), int64_t(ids->size()) + (int64_t(1) << 40));
  return it->second;
}

// pid/tid: numbers or strings (some tools write "Spans" or "stream 7").
Status ParseId(JsonScanner& sc, int64_t* out, const char* field, StringIds* ids) {
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

// Walks an args object: value(key) reads (or skips) each member's value.
template <typename F>
Status ForEachArg(JsonScanner& sc, F&& value) {
  RINGLAB_RETURN_IF_ERROR(sc.Expect('{', "to open", ".args"));
  if (sc.Eat('}')) return Status::Ok();
  std::string kb;
  for (;;) {
    std::string_view k;
    RINGLAB_RETURN_IF_ERROR(sc.String(&k, &kb));
    RINGLAB_RETURN_IF_ERROR(sc.Expect(':', "after a key in", ".args"));
    RINGLAB_RETURN_IF_ERROR(value(k));
    if (sc.Eat(',')) continue;
    return sc.Expect('}', "to close", ".args");
  }
}

Status ParseArgs(JsonScanner& sc, RawEvent* ev) {
  return ForEachArg(sc, [&](std::string_view k) -> Status {
    const bool is_num = sc.NumberStart();
    if (KeyIs(k, "op") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->op, ".args.op", -1, std::numeric_limits<int32_t>::max()));
    } else if (KeyIs(k, "step") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->step, ".args.step", -1, std::numeric_limits<int32_t>::max()));
    } else if (KeyIs(k, "peer") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->peer, ".args.peer", -1, std::numeric_limits<int32_t>::max()));
    } else if (KeyIs(k, "bytes") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->bytes, ".args.bytes", 0, int64_t(1) << 62));
    } else if (KeyIs(k, "flops") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Number(&ev->flops, ".args.flops"));
      if (ev->flops < 0) return sc.Error(sc.Field(".args.flops") + " is negative");
    } else if (KeyIs(k, "sort_index") && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->sort_index, ".args.sort_index", INT32_MIN, INT32_MAX));
    } else if (KeyIs(k, "name") && sc.Peek() == '"') {
      RINGLAB_RETURN_IF_ERROR(sc.String(&ev->meta_name, &ev->meta_name_buf));
    } else if ((KeyIs(k, "iteration") || KeyIs(k, "iter")) && is_num) {
      RINGLAB_RETURN_IF_ERROR(sc.Integer(&ev->iter, ".args.iteration", -1, 32767));
    } else {
      RINGLAB_RETURN_IF_ERROR(sc.Skip(2));
    }
    return Status::Ok();
  });
}

// FNV-1a over the bytes, continuing from h.
uint64_t Fnv(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// A flow's id: the value's own text (a number, a string, or an id2 object), so "1" and 1 differ as they do for
// Chrome's reader only by quoting; hashed later with the category.
Status ParseFlowId(JsonScanner& sc, RawEvent* ev) {
  sc.Ws();
  const char* s = sc.pos();
  RINGLAB_RETURN_IF_ERROR(sc.Skip(1));
  ev->id = Fnv(std::string_view(s, size_t(sc.pos() - s)));
  ev->has_id = true;
  return Status::Ok();
}

bool ContainsNoCase(std::string_view h, std::string_view n) {
  if (n.empty()) return true;
  auto it = std::search(h.begin(), h.end(), n.begin(), n.end(),
                        [](char a, char b) { return std::tolower((unsigned char)a) == std::tolower((unsigned char)b); });
  return it != h.end();
}

}  // namespace

uint64_t FlowKey(std::string_view cat, uint64_t id) { return Fnv(cat, id); }

Status ParseNumericArgs(std::string_view args, const std::string& file,
                        std::vector<std::pair<std::string, double>>* out, size_t max_values) {
  out->clear();
  if (args.empty()) return Status::Ok();
  JsonScanner sc(args, file);
  return ForEachArg(sc, [&](std::string_view k) -> Status {
    if (!sc.NumberStart()) return sc.Skip(2);
    if (out->size() >= max_values)
      return Status::InvalidArgument("trace file '" + file + "': a counter event (ph C) has more than " +
                                     std::to_string(max_values) + " numeric args; the viewer draws at most that many "
                                     "series per counter");
    double v = 0;
    RINGLAB_RETURN_IF_ERROR(sc.Number(&v, ".args (counter value)"));
    out->push_back({std::string(k), v});
    return Status::Ok();
  });
}

void ResetRaw(RawEvent& ev) {
  ev.ph = 0;
  ev.has_pid = ev.has_tid = ev.has_ts = ev.has_dur = false;
  ev.pid = ev.tid = 0;
  ev.ts = SplitTime{};
  ev.dur = ev.flops = 0;
  ev.name = ev.cat = ev.meta_name = {};
  ev.name_buf.clear(), ev.cat_buf.clear(), ev.meta_name_buf.clear();
  ev.op = ev.step = ev.peer = ev.iter = -1;
  ev.bytes = ev.sort_index = 0;
  ev.has_id = ev.bp_enclosing = false;
  ev.id = 0;
  ev.args_raw = {};
}

Status ParseEvent(JsonScanner& sc, RawEvent* ev, StringIds* ids) {
  RINGLAB_RETURN_IF_ERROR(sc.Expect('{', "to open an event object", ""));
  if (sc.Eat('}')) return Status::Ok();
  std::string kb;
  for (;;) {
    std::string_view k;
    RINGLAB_RETURN_IF_ERROR(sc.String(&k, &kb));
    RINGLAB_RETURN_IF_ERROR(sc.Expect(':', "after a key in", ""));
    if (KeyIs(k, "ph")) {
      std::string_view v;
      std::string b;
      RINGLAB_RETURN_IF_ERROR(sc.String(&v, &b));
      ev->ph = v.empty() ? '?' : v[0];
    } else if (KeyIs(k, "name")) {
      if (sc.Peek() == '"') {
        RINGLAB_RETURN_IF_ERROR(sc.String(&ev->name, &ev->name_buf));
      } else {
        return sc.Error(sc.Field(".name") + " must be a string");
      }
    } else if (KeyIs(k, "cat")) {
      if (sc.Peek() == '"') {
        RINGLAB_RETURN_IF_ERROR(sc.String(&ev->cat, &ev->cat_buf));
      } else {
        RINGLAB_RETURN_IF_ERROR(sc.Skip(1));
      }
    } else if (KeyIs(k, "pid")) {
      RINGLAB_RETURN_IF_ERROR(ParseId(sc, &ev->pid, ".pid", ids));
      ev->has_pid = true;
    } else if (KeyIs(k, "tid")) {
      RINGLAB_RETURN_IF_ERROR(ParseId(sc, &ev->tid, ".tid", ids));
      ev->has_tid = true;
    } else if (KeyIs(k, "ts")) {
      RINGLAB_RETURN_IF_ERROR(sc.Timestamp(&ev->ts, ".ts"));
      ev->has_ts = true;
    } else if (KeyIs(k, "dur")) {
      RINGLAB_RETURN_IF_ERROR(sc.Number(&ev->dur, ".dur"));
      if (ev->dur < 0) return sc.Error(sc.Field(".dur") + " is negative");
      ev->has_dur = true;
    } else if (KeyIs(k, "args") && sc.Peek() == '{') {
      const char* a = sc.pos();
      if (ev->ph == 'C') {
        RINGLAB_RETURN_IF_ERROR(sc.Skip(1));  // read by ParseNumericArgs: any key, any number
      } else {
        RINGLAB_RETURN_IF_ERROR(ParseArgs(sc, ev));
      }
      ev->args_raw = std::string_view(a, size_t(sc.pos() - a));
    } else if (KeyIs(k, "id") || KeyIs(k, "id2")) {
      RINGLAB_RETURN_IF_ERROR(ParseFlowId(sc, ev));
    } else if (KeyIs(k, "bp") && sc.Peek() == '"') {
      std::string_view v;
      std::string b;
      RINGLAB_RETURN_IF_ERROR(sc.String(&v, &b));
      ev->bp_enclosing = v == "e";
    } else {
      RINGLAB_RETURN_IF_ERROR(sc.Skip(1));
    }
    if (sc.Eat(',')) continue;
    return sc.Expect('}', "to close", "");
  }
}

VizKind Classify(std::string_view cat, std::string_view name) {
  if (auto k = ParseOpKind(cat)) return VizKind(*k);
  if (ContainsNoCase(name, "nccl") || ContainsNoCase(cat, "nccl") || ContainsNoCase(name, "c10d::")) {
    if (ContainsNoCase(name, "allgather") || ContainsNoCase(name, "all_gather")) return VizKind::kAllGather;
    if (ContainsNoCase(name, "reducescatter") || ContainsNoCase(name, "reduce_scatter")) return VizKind::kReduceScatter;
    if (ContainsNoCase(name, "alltoall") || ContainsNoCase(name, "all_to_all")) return VizKind::kAllToAll;
    if (ContainsNoCase(name, "send")) return VizKind::kSend;
    if (ContainsNoCase(name, "recv")) return VizKind::kRecv;
    return VizKind::kCommOther;
  }
  if (cat == "gpu_memcpy" || cat == "gpu_memset" || ContainsNoCase(name, "memcpy")) return VizKind::kCopy;
  if (cat == "kernel" || cat == "Kernel" || ContainsNoCase(cat, "gpu")) return VizKind::kKernel;
  return VizKind::kHost;
}

}  // namespace ringlab::viz::loader
