#include "viz/app/window.h"

#include <GLFW/glfw3.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>
#include <imgui.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <iostream>
#include <vector>

#include "viz/app/solid_program.h"
#include "viz/timing.h"
#include "viz/views/views.h"

namespace ringlab::viz {

Status OpenViewerWindow(int width, int height, const std::string& title, bool headless, GLFWwindow** out) {
  glfwSetErrorCallback([](int code, const char* msg) { std::cerr << "glfw error " << code << ": " << msg << "\n"; });
  if (!glfwInit())
    return Status::Unavailable("cannot initialise GLFW (no display? run under xvfb-run -a, or use scripts/screenshot.sh)");
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 3);
  glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
  glfwWindowHint(GLFW_RESIZABLE, headless ? GLFW_FALSE : GLFW_TRUE);
  // A plain visual: no multisampling, no depth or stencil buffer, no sRGB conversion. ImGui needs none of them, and
  // with software GL (Mesa llvmpipe under Xvfb) each one is per-pixel work or memory traffic in every frame.
  glfwWindowHint(GLFW_SAMPLES, 0);
  glfwWindowHint(GLFW_DEPTH_BITS, 0);
  glfwWindowHint(GLFW_STENCIL_BITS, 0);
  glfwWindowHint(GLFW_SRGB_CAPABLE, GLFW_FALSE);
  GLFWwindow* win = glfwCreateWindow(width, height, title.c_str(), nullptr, nullptr);
  if (!win) {
    glfwTerminate();
    return Status::Unavailable("cannot create an OpenGL 3.3 window (no display? run under xvfb-run -a)");
  }
  glfwMakeContextCurrent(win);
  glfwSwapInterval(headless ? 0 : 1);
  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui::GetIO().IniFilename = nullptr;
  ImGui::StyleColorsDark();
  ImGui_ImplGlfw_InitForOpenGL(win, true);
  ImGui_ImplOpenGL3_Init("#version 330 core");
  // Font atlas sampled nearest, not bilinear: ImGui places glyphs on whole pixels at scale 1, so text looks the same,
  // and llvmpipe's nearest sampling is much cheaper for every pixel of every quad (solid rectangles sample the
  // atlas's white texel too).
  ImGui_ImplOpenGL3_CreateDeviceObjects();
  glBindTexture(GL_TEXTURE_2D, GLuint(intptr_t(ImGui::GetIO().Fonts->TexID)));
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
  *out = win;
  return Status::Ok();
}

void CloseViewerWindow(GLFWwindow* win) {
  ReleaseOpaqueSolid();
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(win);
  glfwTerminate();
}

void RenderFrame(GLFWwindow* win, ViewerData& d, ViewState& vs, bool headless, double* build_ms,
                 double* build_wall_ms) {
  glfwPollEvents();
  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  // Headless: nobody holds the mouse (under Xvfb the pointer sits mid-screen and would open a tooltip).
  if (headless) ImGui::GetIO().MousePos = ImVec2(-FLT_MAX, -FLT_MAX);
  const double c0 = build_ms ? CpuMs() : 0;
  const auto w0 = Clock::now();
  ImGui::NewFrame();
  DrawViewerFrame(d, vs, ImGui::GetIO().DisplaySize);
  ImGui::Render();
  if (build_ms) *build_ms = CpuMs() - c0;
  if (build_wall_ms) *build_wall_ms = Ms(w0, Clock::now());
  int w, h;
  glfwGetFramebufferSize(win, &w, &h);
  glViewport(0, 0, w, h);
  glClearColor(kViewerBackground[0], kViewerBackground[1], kViewerBackground[2], 1);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

bool EncodePng(GLFWwindow* win, std::string* png) {
  int w, h;
  glfwGetFramebufferSize(win, &w, &h);
  std::vector<unsigned char> px(size_t(w) * size_t(h) * 3), flip(px.size());
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, w, h, GL_RGB, GL_UNSIGNED_BYTE, px.data());
  for (int y = 0; y < h; ++y)
    std::copy_n(&px[size_t(h - 1 - y) * size_t(w) * 3], size_t(w) * 3, &flip[size_t(y) * size_t(w) * 3]);
  png->clear();
  auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
  };
  return stbi_write_png_to_func(append, png, w, h, 3, flip.data(), w * 3) != 0;
}

}  // namespace ringlab::viz
