#include <algorithm>
#include <cmath>

#include "viz/views/view_state.h"

namespace ringlab::viz {
namespace {
constexpr uint8_t kRgb[kVizKindCount][3] = {
    {66, 133, 244},   // attend: blue
    {234, 67, 53},    // send: red
    {251, 140, 0},    // recv: orange
    {142, 36, 170},   // all-gather: purple
    {216, 27, 96},    // reduce-scatter: magenta
    {15, 157, 88},    // merge: green
    {0, 172, 193},    // copy: cyan
    {124, 179, 66},   // prepare: light green
    {255, 112, 67},   // all-to-all: coral (Ulysses head exchange)
    {92, 107, 192},   // kernel: indigo
    {244, 180, 0},    // comm: amber
    {158, 158, 158},  // host: grey
};
}  // namespace

void KindRgb(VizKind k, uint8_t rgb[3]) {
  size_t i = std::min<size_t>(size_t(k), kVizKindCount - 1);
  rgb[0] = kRgb[i][0], rgb[1] = kRgb[i][1], rgb[2] = kRgb[i][2];
}

ImU32 KindColor(VizKind k) {
  uint8_t c[3];
  KindRgb(k, c);
  return IM_COL32(c[0], c[1], c[2], 255);
}

ImU32 DiffColor(float rel) {
  // |rel| ≥ 50% saturates.
  float x = std::clamp(rel / 0.5f, -1.f, 1.f);
  const float g = 170;
  if (x >= 0) return IM_COL32(int(g + (230 - g) * x), int(g - (g - 40) * x), int(g - (g - 40) * x), 255);
  x = -x;
  return IM_COL32(int(g - (g - 40) * x), int(g - (g - 90) * x), int(g + (235 - g) * x), 255);
}

}  // namespace ringlab::viz
