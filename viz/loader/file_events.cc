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
  if (key != last_key) {
    auto [it, ins] = lane_of.try_emplace(key, uint32_t(lane_keys->size()));
    if (ins) lane_keys->push_back(key);
    last_key = key;
    last_lane = it->second;
  }
  return last_lane;
}

void EventSink::Add(const RawEvent& ev) {
  if (!has_origin) {
    has_origin = true;
    origin = (ev.ts.whole >= kOffsetFromUs || ev.ts.whole <= -kOffsetFromUs) ? ev.ts.whole : 0;
  }
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
  events->push_back(e);
}

}  // namespace ringlab::viz::loader
