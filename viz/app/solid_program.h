// A GL program for the timeline's opaque rectangles: ImGui's vertex layout and projection, a flat colour per
// triangle, no texture and no blending.
//
// ImGui's own program multiplies every pixel by a sample of the font atlas (solid shapes sample its white texel) and
// interpolates colour across each triangle. Under software GL (Mesa llvmpipe) the fragment code is the largest part
// of a frame, and the lanes' rectangles cover most of the window, so they are drawn with this cheaper program; text,
// outlines and the other panels keep ImGui's. Installed as a draw-list callback (ViewState::opaque_begin); the
// callback after the rectangles (ImDrawCallback_ResetRenderState) puts ImGui's program back.
#pragma once

#include <imgui.h>

namespace ringlab::viz {

// Draw-list callback: switches to the solid program (built on first use from the current ImGui program's attribute
// locations and projection) and turns blending off. Needs a current GL 3.3 context.
void BeginOpaqueSolid(const ImDrawList*, const ImDrawCmd*);
// Frees the program (before the context goes).
void ReleaseOpaqueSolid();

}  // namespace ringlab::viz
