#include "viz/loader/file_events.h"

namespace ringlab::viz::loader {

uint32_t Interner::Get(std::string_view s) {
  auto it = ids.find(s);
  if (it != ids.end()) return it->second;
  store.push_back(std::make_unique<std::string>(s));
  uint32_t id = uint32_t(store.size() - 1);
  ids.emplace(*store.back(), id);
  return id;
}

std::vector<std::string> Interner::TakeNames() {
  std::vector<std::string> names;
  names.reserve(store.size());
  for (auto& s : store) names.push_back(std::move(*s));
  return names;
}

uint32_t EventSink::LaneOf(LaneKey key) {
  if (!has_last || key != last_key) {
    auto [it, ins] = lane_of.try_emplace(key, uint32_t(lane_keys->size()));
    if (ins) lane_keys->push_back(key);
    has_last = true;
    last_key = key;
    last_lane = it->second;
  }
  return last_lane;
}

void EventSink::Add(const RawEvent& ev) {
  SetOrigin(ev);
  Event e;
  e.ts = ev.ts.Minus(origin);
  e.dur = ev.dur;
  e.flops = ev.flops;
  e.bytes = ev.bytes;
  e.op = int32_t(ev.op);
  e.step = int32_t(ev.step);
  e.peer = int32_t(ev.peer);
  e.kind = Classify(ev.cat, ev.name);
  e.name = names->Get(ev.name);
  e.lane = LaneOf({ev.pid, ev.tid});
  e.iter = int16_t(ev.iter);
  events->push_back(e);
}

void EventSink::SetOrigin(const RawEvent& ev) {
  if (has_origin) return;
  has_origin = true;
  origin = (ev.ts.whole >= kOffsetFromUs || ev.ts.whole <= -kOffsetFromUs) ? ev.ts.whole : 0;
}

bool EventSink::AddFlow(const RawEvent& ev) {
  if (!extras || !ev.has_id || !ev.has_ts) return false;
  SetOrigin(ev);
  FlowPoint p;
  p.id = FlowKey(ev.cat, ev.id);
  p.ts = ev.ts.Minus(origin);
  p.lane = LaneOf({ev.pid, ev.tid});
  p.ph = ev.ph;
  // Flow starts and steps bind to the enclosing slice; an end binds to the next slice unless "bp": "e".
  p.enclosing = ev.ph != 'f' || ev.bp_enclosing;
  extras->flows.push_back(p);
  return true;
}

Status EventSink::AddCounter(const RawEvent& ev, const std::string& file) {
  if (!extras || !ev.has_ts) return Status::Ok();
  SetOrigin(ev);
  std::vector<std::pair<std::string, double>> values;
  RINGLAB_RETURN_IF_ERROR(ParseNumericArgs(ev.args_raw, file, &values));
  const double ts = ev.ts.Minus(origin);
  for (auto& [key, v] : values) {
    // One series per key; a counter with a single "value" key (or one key in all) is named by the event alone.
    std::string name(ev.name);
    if (values.size() > 1 || (key != "value" && name.empty())) name += (name.empty() ? "" : ".") + key;
    const uint32_t series = extras->SeriesOf(ev.pid, std::move(name));
    RINGLAB_RETURN_IF_ERROR(extras->CheckSeriesBudget(file));
    extras->counters.push_back({series, ts, v});
  }
  return Status::Ok();
}

Status FileExtras::CheckSeriesBudget(const std::string& file) const {
  if (series_bytes <= kMaxCounterSeriesBytes) return Status::Ok();
  return Status::InvalidArgument("trace file '" + file + "': its " + std::to_string(counter_keys.size()) +
                                 " counter series (distinct pid and counter name/key pairs) and their names take "
                                 "more than the viewer's " + FormatMegabytes(kMaxCounterSeriesBytes) +
                                 " for counters");
}

uint32_t FileExtras::SeriesOf(int64_t pid, std::string name) {
  CounterKey k{pid, std::move(name)};
  auto [it, ins] = series_of.try_emplace(k, uint32_t(counter_keys.size()));
  if (ins) series_bytes += kCounterSeriesBytes + 3 * k.name.size(), counter_keys.push_back(std::move(k));
  return it->second;
}

}  // namespace ringlab::viz::loader
