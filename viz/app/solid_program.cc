#define GL_GLEXT_PROTOTYPES 1
#include "viz/app/solid_program.h"

#include <GL/gl.h>
#include <GL/glext.h>

#include <cstdio>
#include <initializer_list>

namespace ringlab::viz {
namespace {

struct Solid {
  GLuint program = 0;
  GLint proj = -1;
  bool failed = false;  // compile or link failed once: keep ImGui's program (same picture, slower)
} g_solid;

GLuint Compile(GLenum type, const char* src) {
  GLuint s = glCreateShader(type);
  glShaderSource(s, 1, &src, nullptr);
  glCompileShader(s);
  GLint ok = 0;
  glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[512] = "";
    glGetShaderInfoLog(s, sizeof log, nullptr, log);
    std::fprintf(stderr, "ringlab-view: solid shader: %s\n", log);
    glDeleteShader(s);
    return 0;
  }
  return s;
}

// Same inputs and projection as ImGui's 3.30 program; `flat` colour: every vertex of a rectangle has the same one,
// and llvmpipe then sets up no per-pixel interpolation for it.
constexpr const char* kVertex =
    "#version 330 core\n"
    "uniform mat4 ProjMtx;\n"
    "in vec2 Position;\n"
    "in vec2 UV;\n"
    "in vec4 Color;\n"
    "flat out vec4 Frag_Color;\n"
    "void main() { Frag_Color = Color; gl_Position = ProjMtx * vec4(Position.xy, 0, 1); }\n";
constexpr const char* kFragment =
    "#version 330 core\n"
    "flat in vec4 Frag_Color;\n"
    "out vec4 Out_Color;\n"
    "void main() { Out_Color = Frag_Color; }\n";

bool Build(GLuint imgui_program) {
  GLuint vs = Compile(GL_VERTEX_SHADER, kVertex), fs = Compile(GL_FRAGMENT_SHADER, kFragment);
  if (!vs || !fs) return false;
  GLuint p = glCreateProgram();
  glAttachShader(p, vs);
  glAttachShader(p, fs);
  // The vertex array object ImGui set up feeds its program's attribute locations: use the same ones.
  for (const char* name : {"Position", "UV", "Color"}) {
    const GLint loc = glGetAttribLocation(imgui_program, name);
    if (loc >= 0) glBindAttribLocation(p, GLuint(loc), name);
  }
  glLinkProgram(p);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(p, GL_LINK_STATUS, &ok);
  if (!ok) {
    glDeleteProgram(p);
    return false;
  }
  g_solid.program = p;
  g_solid.proj = glGetUniformLocation(p, "ProjMtx");
  return true;
}

}  // namespace

void BeginOpaqueSolid(const ImDrawList*, const ImDrawCmd*) {
  glDisable(GL_BLEND);
  if (g_solid.failed) return;
  GLint current = 0;
  glGetIntegerv(GL_CURRENT_PROGRAM, &current);
  if (!g_solid.program && !Build(GLuint(current))) {
    g_solid.failed = true;
    return;
  }
  // ImGui sets its projection per frame (display size can change): copy it.
  GLfloat proj[16];
  glGetUniformfv(GLuint(current), glGetUniformLocation(GLuint(current), "ProjMtx"), proj);
  glUseProgram(g_solid.program);
  glUniformMatrix4fv(g_solid.proj, 1, GL_FALSE, proj);
}

void ReleaseOpaqueSolid() {
  if (g_solid.program) glDeleteProgram(g_solid.program);
  g_solid = {};
}

}  // namespace ringlab::viz
