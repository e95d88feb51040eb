#include "apps/exit_codes.h"

#include <cstdio>

namespace ringlab::cli {

const char kExitCodesHelp[] =
    "Exit codes:\n"
    "  0  ok\n"
    "  1  a check failed (check above its tolerance, run --verify, schedule invariants)\n"
    "  2  bad input: one line 'ringlab: error: ...' names the flag or field and its allowed values\n"
    "  3  runtime error: an output that cannot be written, GPUs missing, a CUDA or NCCL failure, anything else";

int ExitCodeFor(const Status& status) {
  if (status.ok()) return kExitOk;
  return status.IsInvalidArgument() ? kExitBadInput : kExitRuntime;
}

int ReportError(const Status& status) {
  std::fprintf(stderr, "ringlab: error: %s\n", status.message().c_str());
  return ExitCodeFor(status);
}

Status AsRuntimeError(Status status) {
  if (status.ok() || !status.IsInvalidArgument()) return status;
  return Status::Internal(status.message());
}

}  // namespace ringlab::cli
