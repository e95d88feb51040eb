// The viewer's window: a GLFW window with an OpenGL 3.3 core context and ImGui's GLFW/OpenGL3 backends, one frame of
// the viewer panels rendered into it, and its framebuffer written as a PNG.
//
//   GLFWwindow* win = nullptr;
//   RINGLAB_RETURN_IF_ERROR(OpenViewerWindow(1600, 900, "ringlab-view", /*headless=*/false, &win));
//   while (!glfwWindowShouldClose(win)) RenderFrame(win, data, vs, false), glfwSwapBuffers(win);
//   CloseViewerWindow(win);
#pragma once

#include <string>

#include "core/status.h"
#include "viz/views/view_state.h"

struct GLFWwindow;

namespace ringlab::viz {

// Fails with a message when there is no display or no OpenGL 3.3. A headless window (screenshots, benchmarks) is not
// resizable and does not wait for vertical sync.
Status OpenViewerWindow(int width, int height, const std::string& title, bool headless, GLFWwindow** out);
// Frees the GL objects, ImGui and the window.
void CloseViewerWindow(GLFWwindow* win);

// One frame: input, panels, draw (the caller swaps buffers). *build_ms (when given) gets the CPU time of building
// the draw lists (all threads), *build_wall_ms its wall time.
void RenderFrame(GLFWwindow* win, ViewerData& d, ViewState& vs, bool headless, double* build_ms = nullptr,
                 double* build_wall_ms = nullptr);

// The back buffer as an RGB PNG in memory (written out whole by core/output_file.h); false when encoding failed.
bool EncodePng(GLFWwindow* win, std::string* png);

}  // namespace ringlab::viz
