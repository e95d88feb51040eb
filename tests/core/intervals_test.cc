#include "core/intervals.h"

#include <gtest/gtest.h>

#include <random>

namespace ringlab {
namespace {

using Intervals = std::vector<Interval>;

void ExpectIntervals(const Intervals& got, const Intervals& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_DOUBLE_EQ(got[i].begin, want[i].begin) << i;
    EXPECT_DOUBLE_EQ(got[i].end, want[i].end) << i;
  }
}

TEST(Intervals, UnionSortsAndMergesOverlappingAndTouching) {
  const Intervals u = Union({{12, 20}, {0, 10}, {5, 8}, {10, 11}, {30, 31}});
  ExpectIntervals(u, {{0, 11}, {12, 20}, {30, 31}});
  EXPECT_DOUBLE_EQ(Length(u), 11 + 8 + 1);
  EXPECT_TRUE(Union({}).empty());
  EXPECT_DOUBLE_EQ(Length({}), 0);
}

TEST(Intervals, UnionKeepsEmptyIntervalsAsPoints) {
  // The run summary reads the last interval's end as the rank's last op end, zero-length ops included.
  const Intervals u = Union({{0, 5}, {9, 9}, {5, 5}});
  ExpectIntervals(u, {{0, 5}, {9, 9}});
  EXPECT_DOUBLE_EQ(Length(u), 5);
}

TEST(Intervals, MergeInPlaceEqualsUnion) {
  Intervals v = {{3, 4}, {1, 2}, {2, 3}, {7, 9}, {8, 8.5}};
  const Intervals u = Union(v);
  MergeInPlace(&v);
  ExpectIntervals(v, u);
  ExpectIntervals(v, {{1, 4}, {7, 9}});
}

TEST(Intervals, AppendMergedDropsEmptyAndMergesTouching) {
  Intervals v;
  AppendMerged(&v, 0, 2);
  AppendMerged(&v, 1, 3);
  AppendMerged(&v, 3, 4);
  AppendMerged(&v, 5, 5);
  AppendMerged(&v, 6, 7);
  AppendMerged(&v, 6.5, 6.6);
  ExpectIntervals(v, {{0, 4}, {6, 7}});
}

TEST(Intervals, UnionOfSortedMergesTwoLists) {
  ExpectIntervals(UnionOfSorted({{0, 2}, {5, 6}, {9, 10}}, {{1, 3}, {6, 7}, {20, 21}}),
                  {{0, 3}, {5, 7}, {9, 10}, {20, 21}});
  ExpectIntervals(UnionOfSorted({}, {{1, 2}}), {{1, 2}});
  EXPECT_TRUE(UnionOfSorted({}, {}).empty());
}

TEST(Intervals, IntersectionOfTwoUnions) {
  // Compute [0,10) and [12,20); comm [5,15): both busy in [5,10) and [12,15).
  const Intervals compute = {{0, 10}, {12, 20}}, comm = {{5, 15}};
  ExpectIntervals(Intersection(compute, comm), {{5, 10}, {12, 15}});
  EXPECT_DOUBLE_EQ(IntersectionLength(compute, comm), 8);
  EXPECT_DOUBLE_EQ(IntersectionLength(comm, compute), 8);
  // Touching is not overlapping.
  EXPECT_TRUE(Intersection({{0, 1}}, {{1, 2}}).empty());
  EXPECT_DOUBLE_EQ(IntersectionLength({}, comm), 0);
}

// Against a brute-force count on an integer grid: union and intersection lengths of random interval sets.
TEST(Intervals, AgreeWithAGridCountOnRandomSets) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> start(0, 90), len(0, 12);
  for (int trial = 0; trial < 50; ++trial) {
    Intervals a, b;
    std::vector<int> in_a(110, 0), in_b(110, 0);
    for (int k = 0; k < 12; ++k) {
      const int s = start(rng), l = len(rng);
      ((k % 2) ? a : b).push_back({double(s), double(s + l)});
      for (int t = s; t < s + l; ++t) ((k % 2) ? in_a : in_b)[size_t(t)] = 1;
    }
    int na = 0, nb = 0, both = 0;
    for (size_t t = 0; t < in_a.size(); ++t) na += in_a[t], nb += in_b[t], both += in_a[t] & in_b[t];
    const Intervals ua = Union(a), ub = Union(b);
    EXPECT_DOUBLE_EQ(Length(ua), na);
    EXPECT_DOUBLE_EQ(Length(ub), nb);
    EXPECT_DOUBLE_EQ(IntersectionLength(ua, ub), both);
    EXPECT_DOUBLE_EQ(Length(Intersection(ua, ub)), both);
    EXPECT_DOUBLE_EQ(Length(UnionOfSorted(ua, ub)), Length(Union([&] {
                       Intervals all = a;
                       all.insert(all.end(), b.begin(), b.end());
                       return all;
                     }())));
  }
}

}  // namespace
}  // namespace ringlab
