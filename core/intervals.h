// Interval arithmetic on busy times: the union of a set of [begin, end) intervals and the overlap of two such unions.
// One implementation for the run summary (core/metrics.cc), the viewer's window statistics (viz/stats.cc) and its
// statistics index (viz/stats_index.cc), so "compute", "comm" and "both" mean the same everywhere.
//
// Intervals that overlap or touch (one ends where the next begins) merge into one.
//
//   std::vector<Interval> compute = Union({{0, 10}, {12, 20}}), comm = Union({{5, 15}});
//   Length(compute);                     // 18
//   IntersectionLength(compute, comm);   // 8: [5, 10) and [12, 15)
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace ringlab {

struct Interval {
  double begin = 0, end = 0;
};

// Sorts by begin and merges overlapping or touching intervals in place. Empty intervals are kept (as points), so
// the last interval's end is the latest end of the input.
void MergeInPlace(std::vector<Interval>* v);
// The same, returning the merged copy: disjoint intervals sorted by begin.
std::vector<Interval> Union(std::vector<Interval> v);
// Total length of disjoint intervals.
double Length(const std::vector<Interval>& v);

// Appends [begin, end) to intervals sorted by begin, merging it into the last one when they overlap or touch. An empty
// interval is dropped. Feeding intervals sorted by begin builds their union in one pass.
void AppendMerged(std::vector<Interval>* v, double begin, double end);
// Union of two lists of disjoint intervals sorted by begin (a linear merge, no sort); empty intervals are dropped.
std::vector<Interval> UnionOfSorted(const std::vector<Interval>& x, const std::vector<Interval>& y);

// Calls f(lo, hi) for each non-empty overlap of two lists of disjoint intervals sorted by begin, in order.
template <typename F>
void ForEachOverlap(const std::vector<Interval>& a, const std::vector<Interval>& b, F&& f) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const double lo = std::max(a[i].begin, b[j].begin), hi = std::min(a[i].end, b[j].end);
    if (hi > lo) f(lo, hi);
    if (a[i].end < b[j].end) ++i;
    else ++j;
  }
}
// The overlaps themselves, and their total length (time in both).
std::vector<Interval> Intersection(const std::vector<Interval>& a, const std::vector<Interval>& b);
double IntersectionLength(const std::vector<Interval>& a, const std::vector<Interval>& b);

}  // namespace ringlab
