// Logging of every `ringlab` subcommand: spdlog on stderr, set up in one place (AddSubcommands) from -v/--verbose and
// -q/--quiet. Errors are not logs: ReportError prints them whatever the level (apps/exit_codes.h).
//
//   spdlog::info("wrote {}", path);     // "ringlab: wrote out.json" on stderr; hidden by -q
//   spdlog::debug("{} ops", n);        // only with -v
//   spdlog::warn("warning: ...");      // shown even with -q
#pragma once

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

namespace ringlab::cli {

struct LogFlags {
  bool verbose = false;
  bool quiet = false;
};

// Adds -v/--verbose and -q/--quiet to `cmd`.
void AddLogFlags(CLI::App* cmd, LogFlags* flags);

// Installs the stderr logger at the level the flags ask for (info by default, debug with -v, warnings with -q).
void SetupLogging(const LogFlags& flags);

// False with -q: progress lines (apps/progress.h) stay off.
bool ProgressEnabled();

}  // namespace ringlab::cli

#include <cstdio>
#include <initializer_list>
#include <string>

namespace ringlab::cli {

// Where a subcommand's human text (tables, reports) goes: stdout, unless one of `outputs` is "-" (stdout carries that
// output alone, so that `--json - | python3 -m json.tool` works); then stderr.
FILE* HumanText(std::initializer_list<std::string> outputs);

}  // namespace ringlab::cli
