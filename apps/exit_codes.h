// The exit codes of every `ringlab` subcommand, and the one place a failed Status becomes one of them.
//
//   if (Status st = MakeConfigs(options.common, &configs); !st.ok()) return ReportError(st);  // 2: bad input
//   if (Status st = AsRuntimeError(WriteTraceJson(trace, path)); !st.ok()) return ReportError(st);  // 3
//   return pass ? kExitOk : kExitCheckFailed;
#pragma once

#include "core/status.h"

namespace ringlab::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitCheckFailed = 1,  // the command ran and a check it makes failed (tolerance, verification, invariants)
  kExitBadInput = 2,     // the command line or an input file is wrong: no machine would run it
  kExitRuntime = 3,      // this machine could not do it: I/O, missing GPUs, CUDA or NCCL, anything else
};

// The "Exit codes:" section at the end of `ringlab --help` and of every subcommand's --help.
extern const char kExitCodesHelp[];

// InvalidArgument is bad input (2); every other failure is a runtime error (3).
int ExitCodeFor(const Status& status);

// Prints "ringlab: error: <message>" on stderr and returns ExitCodeFor(status).
int ReportError(const Status& status);

// Marks a failure to write an output as a runtime error. Core reports a file it cannot write as InvalidArgument
// (the path is an argument), but a command line that names a folder this machine cannot write to is not wrong.
Status AsRuntimeError(Status status);

}  // namespace ringlab::cli
