#include "core/trace_flows.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>

#include "core/ulysses_layout.h"

namespace ringlab {
namespace {

// A message's identity: sender, receiver, tag, and the step, which both ends share (and which still tells messages
// apart in a version 1 file that has no tags).
struct MessageKey {
  int32_t sender, receiver, tag, step;
  bool operator==(const MessageKey&) const = default;
};
struct MessageKeyHash {
  size_t operator()(const MessageKey& k) const {
    const uint64_t a = (uint64_t(uint32_t(k.sender)) << 32) | uint32_t(k.receiver);
    const uint64_t b = (uint64_t(uint32_t(k.tag)) << 32) | uint32_t(k.step);
    return std::hash<uint64_t>()(a * 0x9E3779B97F4A7C15ull ^ b);
  }
};

void AddSendRecvFlows(const Trace& trace, std::vector<TraceFlow>* flows) {
  std::unordered_map<MessageKey, size_t, MessageKeyHash> sends;
  for (size_t i = 0; i < trace.events.size(); ++i) {
    const TraceEvent& e = trace.events[i];
    if (e.kind == OpKind::kSend && e.peer >= 0) sends.emplace(MessageKey{e.rank, e.peer, e.tag, e.step}, i);
  }
  for (size_t i = 0; i < trace.events.size(); ++i) {
    const TraceEvent& e = trace.events[i];
    if (e.kind != OpKind::kRecv || e.peer < 0) continue;
    auto it = sends.find(MessageKey{e.peer, e.rank, e.tag, e.step});
    if (it != sends.end()) flows->push_back({it->second, i});
  }
}

// All-to-all: every member sends each other member a piece, so one flow per ordered pair of traced members.
void AddAllToAllFlows(const Trace& trace, std::vector<TraceFlow>* flows) {
  std::map<std::pair<int, int>, std::vector<size_t>> members;  // (group's first rank, tag) -> events
  for (size_t i = 0; i < trace.events.size(); ++i) {
    const TraceEvent& e = trace.events[i];
    if (e.kind != OpKind::kAllToAll) continue;
    const CommGroup g = CollectiveGroup(trace.meta.config, e.rank, e.kind);
    members[{g.first, e.tag}].push_back(i);
  }
  for (const auto& [key, events] : members)
    for (size_t a : events)
      for (size_t b : events)
        if (a != b) flows->push_back({a, b});
}

}  // namespace

std::vector<TraceFlow> MessageFlows(const Trace& trace) {
  std::vector<TraceFlow> flows;
  AddSendRecvFlows(trace, &flows);
  AddAllToAllFlows(trace, &flows);
  std::sort(flows.begin(), flows.end(),
            [](const TraceFlow& x, const TraceFlow& y) { return std::tie(x.from, x.to) < std::tie(y.from, y.to); });
  return flows;
}

}  // namespace ringlab
