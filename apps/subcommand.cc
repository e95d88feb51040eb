#include "apps/subcommand.h"

#include <cstdio>
#include <exception>
#include <new>
#include <system_error>

#include "apps/exit_codes.h"
#include "apps/logging.h"

namespace ringlab::cli {
namespace {

// CLI11 keeps the last of a repeated single-value option (and of --causal --no-causal): a repeated flag is more likely
// a mistake than a wish, so it is bad input naming the flag.
Status CheckNoRepeatedFlags(const CLI::App& cmd) {
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->count() <= 1 || opt->get_items_expected_max() > 1) continue;
    return Status::InvalidArgument(opt->get_name() + " is given " + std::to_string(opt->count()) +
                                   " times; give it once");
  }
  return Status::Ok();
}

// An empty value ("--json ''", "--profile ''") is never meaningful: for an output flag it would silently mean "not
// given". Bad input naming the flag.
Status CheckNoEmptyValues(const CLI::App& cmd) {
  for (const CLI::Option* opt : cmd.get_options()) {
    if (opt->count() == 0 || opt->get_items_expected_max() == 0) continue;  // not given, or a flag without a value
    for (const std::string& v : opt->results())
      if (v.empty()) return Status::InvalidArgument(opt->get_name() + " is given an empty value");
  }
  return Status::Ok();
}

}  // namespace

void AddSubcommands(CLI::App& app, const std::vector<Subcommand>& subcommands, int* exit_code) {
  for (const Subcommand& s : subcommands) {
    CLI::App* cmd = app.add_subcommand(s.name, s.help);
    cmd->footer(kExitCodesHelp);
    std::function<int()> run = s.attach(cmd);
    // `view` hands every argument to ringlab-view: it keeps its own flags.
    auto log_flags = std::make_shared<LogFlags>();
    const bool passes_through = cmd->get_prefix_command();
    if (!passes_through) AddLogFlags(cmd, log_flags.get());
    cmd->callback([run, exit_code, cmd, log_flags] {
      SetupLogging(*log_flags);
      // The last resort: whatever escapes a subcommand is one line and exit 3, never an abort (exit 134).
      try {
        Status st = CheckNoRepeatedFlags(*cmd);
        if (st.ok()) st = CheckNoEmptyValues(*cmd);
        if (!st.ok()) {
          *exit_code = ReportError(st);
          return;
        }
        *exit_code = run();
      } catch (const std::bad_alloc&) {
        std::fprintf(stderr,
                     "ringlab: error: out of memory: the request needs more memory than this process may use "
                     "(try a smaller --world or --seq)\n");
        *exit_code = kExitRuntime;
      } catch (const std::system_error& e) {
        std::fprintf(stderr, "ringlab: error: the system refused a resource (threads, files): %s\n", e.what());
        *exit_code = kExitRuntime;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ringlab: error: %s\n", e.what());
        *exit_code = kExitRuntime;
      }
    });
  }
}

}  // namespace ringlab::cli
