// The exit codes of every `ringlab` subcommand, and the one place a failed Status becomes one of them.
//
//   if (Status st = MakeConfigs(options.common, &configs); !st.ok()) return ReportError(st);  // 2: bad input
//   if (Status st = WriteTraceJson(trace, path); !st.ok()) return ReportError(st);  // 2: the file is the user's
//   return pass ? kExitOk : kExitCheckFailed;
#pragma once

#include "core/status.h"

namespace ringlab::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,  // the command ran and a check it makes failed (tolerance, verification, invariants)
  kExitBadInput = 2,     // the command line or an input file is wrong, an output cannot be written (the path or disk is
                         // the user's), or the request is larger than this process's memory or thread limits
  kExitRuntime = 3,      // this machine could not do it: missing GPUs, CUDA or NCCL, memory running out anyway
};

// The "Exit codes:" section at the end of `ringlab --help` and of every subcommand's --help.
extern const char kExitCodesHelp[];

// InvalidArgument is bad input (2); every other failure is a runtime error (3).
int ExitCodeFor(const Status& status);

// Prints "ringlab: error: <message>" on stderr and returns ExitCodeFor(status).
int ReportError(const Status& status);

}  // namespace ringlab::cli
