#include "core/intervals.h"

namespace ringlab {

void MergeInPlace(std::vector<Interval>* v) {
  std::sort(v->begin(), v->end(), [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
  size_t w = 0;
  for (size_t i = 0; i < v->size(); ++i) {
    if (w > 0 && (*v)[i].begin <= (*v)[w - 1].end)
      (*v)[w - 1].end = std::max((*v)[w - 1].end, (*v)[i].end);
    else
      (*v)[w++] = (*v)[i];
  }
  v->resize(w);
}

std::vector<Interval> Union(std::vector<Interval> v) {
  MergeInPlace(&v);
  return v;
}

double Length(const std::vector<Interval>& v) {
  double t = 0;
  for (const Interval& i : v) t += i.end - i.begin;
  return t;
}

void AppendMerged(std::vector<Interval>* v, double begin, double end) {
  if (!(end > begin)) return;
  if (!v->empty() && begin <= v->back().end) {
    v->back().end = std::max(v->back().end, end);
    return;
  }
  v->push_back({begin, end});
}

std::vector<Interval> UnionOfSorted(const std::vector<Interval>& x, const std::vector<Interval>& y) {
  std::vector<Interval> r;
  r.reserve(x.size() + y.size());
  size_t i = 0, j = 0;
  while (i < x.size() || j < y.size()) {
    const Interval& next = (j >= y.size() || (i < x.size() && x[i].begin <= y[j].begin)) ? x[i++] : y[j++];
    AppendMerged(&r, next.begin, next.end);
  }
  return r;
}

std::vector<Interval> Intersection(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  std::vector<Interval> r;
  ForEachOverlap(a, b, [&](double lo, double hi) { r.push_back({lo, hi}); });
  return r;
}

double IntersectionLength(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  double t = 0;
  ForEachOverlap(a, b, [&](double lo, double hi) { t += hi - lo; });
  return t;
}

}  // namespace ringlab
