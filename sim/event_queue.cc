#include "sim/event_queue.h"

#include <algorithm>

namespace ringlab::sim {

EventQueue::EventQueue() : cells_(64), shift_(64 - 6) {
  for (Slot& c : cache_) c = Slot{0, UINT32_MAX};
}

void EventQueue::Insert(int64_t t, uint32_t bucket) {
  if (2 * (open_count_ + 1) > cells_.size()) {  // keep the table at most half full
    std::vector<Cell> old(2 * cells_.size());
    old.swap(cells_);
    --shift_;
    for (const Cell& c : old)
      if (c.t != kEmpty) cells_[Find(c.t)] = c;
  }
  cells_[Find(t)] = Cell{t, bucket};
  ++open_count_;
}

void EventQueue::Erase(int64_t t) {
  const size_t mask = cells_.size() - 1;
  size_t hole = Find(t);
  if (cells_[hole].t == kEmpty) return;
  // Backward shift: move later cells of the probe run into the hole when their home allows it.
  for (size_t j = (hole + 1) & mask; cells_[j].t != kEmpty; j = (j + 1) & mask) {
    const size_t home = Home(cells_[j].t);
    const bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      cells_[hole] = cells_[j];
      hole = j;
    }
  }
  cells_[hole] = Cell{};
  --open_count_;
}

uint32_t EventQueue::BucketFor(int64_t t) {
  for (const Slot& c : cache_)
    if (c.t == t && c.bucket != UINT32_MAX) return c.bucket;
  uint32_t id;
  const size_t cell = Find(t);
  if (cells_[cell].t == t) {
    id = cells_[cell].bucket;
  } else {
    if (!free_buckets_.empty()) {
      id = free_buckets_.back();
      free_buckets_.pop_back();
    } else {
      id = uint32_t(buckets_.size());
      buckets_.emplace_back();
    }
    buckets_[id].t = t;
    Insert(t, id);
    // 4-ary heap insert of the new distinct time.
    size_t i = heap_.size();
    heap_.push_back(Slot{t, id});
    while (i > 0) {
      const size_t parent = (i - 1) / 4;
      if (heap_[parent].t <= t) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = Slot{t, id};
  }
  cache_[cache_next_] = Slot{t, id};
  cache_next_ = (cache_next_ + 1) % kCache;
  return id;
}

void EventQueue::Retire(const Slot& slot) {
  // A bucket keeps its capacity for reuse only while that is small: buckets are reused in any order, so keeping the
  // capacity of every time that once held many events (a ring's lockstep instants hold up to W) left every free
  // bucket that large (general engine, W = 16384 alltoall forward contiguous: 288 MiB peak RSS, 106 MiB without them).
  std::vector<Event>& items = buckets_[slot.bucket].items;
  if (items.capacity() > kKeptCapacity) {
    std::vector<Event>().swap(items);
  } else {
    items.clear();
  }
  free_buckets_.push_back(slot.bucket);
  Erase(slot.t);
  for (Slot& c : cache_)
    if (c.bucket == slot.bucket) c = Slot{0, UINT32_MAX};
  // Pop the root of the 4-ary heap.
  const Slot last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n == 0) return;
  size_t i = 0;
  while (true) {
    const size_t c0 = 4 * i + 1;
    if (c0 >= n) break;
    size_t best = c0;
    for (size_t c = c0 + 1; c < std::min(c0 + 4, n); ++c)
      if (heap_[c].t < heap_[best].t) best = c;
    if (heap_[best].t >= last.t) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = last;
}

size_t EventQueue::IdleCapacity() const {
  size_t room = 0;
  for (uint32_t id : free_buckets_) room += buckets_[id].items.capacity();
  return room;
}

}  // namespace ringlab::sim
