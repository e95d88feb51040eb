// The engine's event queue: events ordered by (time, push order).
//
// Events at one time are kept in one FIFO bucket (FIFO order is push order); a 4-ary heap orders the distinct times.
// A ring's ranks act in lockstep, so there are few distinct pending times and most pushes hit a cached bucket.
//
//   EventQueue q;
//   q.Push(t, {type, id, version});
//   while (!q.empty()) {
//     const EventQueue::Slot top = q.Top();
//     for (size_t i = 0; i < q.Size(top); ++i) Handle(q.At(top, i));   // pushes for top.t land at its end
//     q.Retire(top);
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ringlab::sim {

class EventQueue {
 public:
  struct Event {
    uint32_t type, id, version;
  };
  // A distinct pending time and the bucket that holds its events.
  struct Slot {
    int64_t t;
    uint32_t bucket;
  };

  EventQueue();
  void Push(int64_t t, const Event& e) { buckets_[BucketFor(t)].items.push_back(e); }
  bool empty() const { return heap_.empty(); }
  // The earliest pending time.
  Slot Top() const { return heap_[0]; }
  // Events of `slot` in push order; the count grows while events for its time are pushed.
  size_t Size(const Slot& slot) const { return buckets_[slot.bucket].items.size(); }
  Event At(const Slot& slot, size_t i) const { return buckets_[slot.bucket].items[i]; }
  // Drops the top time (`slot`, from Top()) once all its events are handled.
  void Retire(const Slot& slot);
  // Room for events held by buckets of no pending time (a diagnostic: bounded by kKeptCapacity per bucket).
  size_t IdleCapacity() const;

 private:
  struct Bucket {
    int64_t t = 0;
    std::vector<Event> items;
  };
  uint32_t BucketFor(int64_t t);
  // The events a retired bucket may keep room for (Retire).
  static constexpr size_t kKeptCapacity = 64;

  std::vector<Slot> heap_;
  std::vector<Bucket> buckets_;
  std::vector<uint32_t> free_buckets_;
  // The bucket of each pending time: open addressing with linear probing over a power-of-two table (times are >= 0;
  // kEmpty marks a free cell), erase by backward shift. No allocation per distinct time, unlike a node-based map:
  // desynchronised runs (backward passes) create and retire a distinct time every few events.
  static constexpr int64_t kEmpty = INT64_MIN;
  struct Cell {
    int64_t t = kEmpty;
    uint32_t bucket = 0;
  };
  size_t Home(int64_t t) const { return size_t((uint64_t(t) * 0x9E3779B97F4A7C15ull) >> shift_); }
  // The cell holding t, or the empty cell where it would go.
  size_t Find(int64_t t) const {
    size_t i = Home(t);
    while (cells_[i].t != kEmpty && cells_[i].t != t) i = (i + 1) & (cells_.size() - 1);
    return i;
  }
  void Insert(int64_t t, uint32_t bucket);
  void Erase(int64_t t);
  std::vector<Cell> cells_;
  size_t open_count_ = 0;
  int shift_ = 0;
  static constexpr int kCache = 4;
  Slot cache_[kCache];
  int cache_next_ = 0;
};

}  // namespace ringlab::sim
