#include "apps/subcommand.h"

#include <cstdio>
#include <exception>

#include "apps/exit_codes.h"

namespace ringlab::cli {

void AddSubcommands(CLI::App& app, const std::vector<Subcommand>& subcommands, int* exit_code) {
  for (const Subcommand& s : subcommands) {
    CLI::App* cmd = app.add_subcommand(s.name, s.help);
    cmd->footer(kExitCodesHelp);
    std::function<int()> run = s.attach(cmd);
    cmd->callback([run, exit_code] {
      try {
        *exit_code = run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ringlab: error: %s\n", e.what());
        *exit_code = kExitRuntime;
      }
    });
  }
}

}  // namespace ringlab::cli
