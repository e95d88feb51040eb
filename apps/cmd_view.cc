// `ringlab view`: hands over to the `ringlab-view` program installed beside `ringlab`, so that this CLI (which also
// runs on GPU machines) never links GL or GLFW.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/exit_codes.h"

namespace ringlab::cli {

struct ViewOptions {
  const CLI::App* cmd = nullptr;  // every argument goes to the viewer: read after parsing, cmd->remaining()
};

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

int RunView(const ViewOptions& o) {
  std::vector<std::string> argv_s = {ViewerPath()};
  bool help = false;
  for (const std::string& a : o.cmd->remaining()) {
    argv_s.push_back(a);
    help |= a == "--help" || a == "-h";
  }
  // --help: this wrapper's usage and exit codes first, then the viewer's own list of options.
  if (help) {
    std::printf("%s\n", o.cmd->help(o.cmd->get_parent()->get_name()).c_str());
    std::fflush(stdout);
  }
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::fprintf(help ? stdout : stderr, "ringlab: %s cannot start the viewer '%s' (build with the viewer: libglfw3-dev, "
               "libimgui-dev)\n", help ? "note:" : "error:", argv[0]);
  // Like a subcommand this build does not have: bad input (2), except that --help has done its job.
  return help ? kExitOk : kExitBadInput;
}

std::shared_ptr<ViewOptions> SetupView(CLI::App* cmd) {
  auto opts = std::make_shared<ViewOptions>();
  opts->cmd = cmd;
  cmd->allow_extras();
  cmd->prefix_command();
  cmd->set_help_flag();  // --help goes to ringlab-view too, which lists every viewer option
  return opts;
}

}  // namespace ringlab::cli
