#include "apps/logging.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <memory>

namespace ringlab::cli {

void AddLogFlags(CLI::App* cmd, LogFlags* flags) {
  CLI::Option* v = cmd->add_flag("-v,--verbose", flags->verbose, "more detail on stderr (timings, sizes, limits)");
  CLI::Option* q = cmd->add_flag("-q,--quiet", flags->quiet,
                                 "only errors and warnings on stderr: no progress, no "
                                 "'wrote FILE' lines");
  v->excludes(q);
}

void SetupLogging(const LogFlags& flags) {
  // Plain (uncoloured) stderr, so that a log captured to a file reads the same as on a terminal.
  auto logger = std::make_shared<spdlog::logger>("ringlab", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern(flags.verbose ? "ringlab [%H:%M:%S.%e %l]: %v" : "ringlab: %v");
  logger->set_level(flags.quiet ? spdlog::level::warn : flags.verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);  // every line at once: progress must show while the work runs
  spdlog::set_default_logger(logger);
}

bool ProgressEnabled() { return spdlog::default_logger()->should_log(spdlog::level::info); }

}  // namespace ringlab::cli

namespace ringlab::cli {

FILE* HumanText(std::initializer_list<std::string> outputs) {
  for (const std::string& o : outputs)
    if (o == "-") return stderr;
  return stdout;
}

}  // namespace ringlab::cli
