// `ringlab view`: hands over to the `ringlab-view` program installed beside `ringlab`, so that this CLI (which also
// runs on GPU machines) never links GL or GLFW.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.h"

namespace ringlab::cli {
namespace {

std::string ViewerPath() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "ringlab-view";
  self[n] = 0;
  const std::filesystem::path dir = std::filesystem::path(self).parent_path();
  for (const char* candidate : {"ringlab-view", "../viz/ringlab-view"})
    if (std::filesystem::exists(dir / candidate)) return (dir / candidate).string();
  return "ringlab-view";
}

}  // namespace

void AddViewCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand(
      "view", "Open traces in the interactive timeline viewer (ringlab-view; its --help lists every option)");
  cmd->allow_extras();
  cmd->prefix_command();
  cmd->set_help_flag();  // --help goes to ringlab-view, which lists every viewer option
  cmd->callback([cmd, exit_code] {
    std::vector<std::string> argv_s = {ViewerPath()};
    for (const std::string& a : cmd->remaining()) argv_s.push_back(a);
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "ringlab: error: cannot start the viewer '%s' (build with the viewer: libglfw3-dev, "
                         "libimgui-dev)\n", argv[0]);
    *exit_code = 2;
  });
}

}  // namespace ringlab::cli
