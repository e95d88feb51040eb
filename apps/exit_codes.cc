#include "apps/exit_codes.h"

#include <cstdio>

namespace ringlab::cli {

const char kExitCodesHelp[] =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  a check failed (check above its tolerance, run --verify, schedule invariants)\n"
    "  2  bad input, including an output that cannot be written and a request larger than this machine's memory or\n"
    "     thread limits: one line 'ringlab: error: ...' names the flag, field or file and what is allowed\n"
    "  3  runtime error: GPUs missing, a CUDA or NCCL failure, running out of memory anyway, anything else\n"
    "Outputs: '-' is stdout for every output flag (the human text then goes to stderr). A file is written whole\n"
    "or not at all: a temporary beside it, renamed into place once every output of the run is complete. A flag\n"
    "that writes several files (several methods or passes) inserts a suffix before the extension (see each flag);\n"
    "'-' and special files cannot take one. -v/--verbose and -q/--quiet set how much goes to stderr.";

int ExitCodeFor(const Status& status) {
  if (status.ok()) return kExitOk;
  return status.IsInvalidArgument() ? kExitBadInput : kExitRuntime;
}

int ReportError(const Status& status) {
  std::fprintf(stderr, "ringlab: error: %s\n", status.message().c_str());
  return ExitCodeFor(status);
}

}  // namespace ringlab::cli
