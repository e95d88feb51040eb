// Runs the `ringlab` binary under test (RINGLAB_BIN) with a command line and returns its exit code and output
// (stdout and stderr together), for the CLI tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace ringlab::cli_test {

// Whether these tests (and so the ringlab beside them, built with the same flags) run under AddressSanitizer, which
// reserves terabytes of shadow address space at start: under `ulimit -v` such a binary cannot start at all.
constexpr bool kUnderAddressSanitizer =
#if defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif
constexpr const char* kNoUlimitUnderAsan =
    "ASan reserves ~16 TB of shadow address space at start, which ulimit -v forbids (scripts/sanitize.sh); this test "
    "runs in the normal build";

struct Result {
  int code;
  std::string output;
};

// Runs a shell command line and returns its exit code and stdout.
inline Result RunShell(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline Result RunRinglab(const std::string& args) { return RunShell(std::string(RINGLAB_BIN) + " " + args + " 2>&1"); }

// A run with stdout and stderr apart; `shell_prefix` goes before the binary in a subshell ("ulimit -v 1000000;").
struct SplitResult {
  int code;
  std::string out, err;
};

inline std::string ReadWholeFile(const std::string& path) {
  std::string text;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
  }
  return text;
}

inline SplitResult RunSplit(const std::string& args, const std::string& shell_prefix = "") {
  const std::string err_path = ::testing::TempDir() + "ringlab_stderr_" + std::to_string(::getpid()) + ".txt";
  const std::string cmd = "(" + shell_prefix + " " + std::string(RINGLAB_BIN) + " " + args + ") 2>" + err_path;
  const Result r = RunShell(cmd);
  std::string err = ReadWholeFile(err_path);
  std::remove(err_path.c_str());
  return {r.code, r.output, err};
}

// Bad input: exit code 2 and one "ringlab: error:" line that contains `names` (the flag or field).
inline void ExpectBadInput(const std::string& args, const std::string& names) {
  Result r = RunRinglab(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
  EXPECT_NE(r.output.find("ringlab: error:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(names), std::string::npos) << args << "\n" << r.output;
}

}  // namespace ringlab::cli_test
