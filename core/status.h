// Status: the result of an operation that can fail on bad input, carrying one readable line.
// Library code returns Status instead of throwing across library boundaries; the CLI prints message() and exits 2.
//
//   Status s = ValidateProblem(p);
//   if (!s.ok()) { std::cerr << s.message() << "\n"; return 2; }
#pragma once

#include <string>
#include <utility>

namespace ringlab {

class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }
  static Status Internal(std::string message) { return Status(Code::kInternal, std::move(message)); }
  static Status Unavailable(std::string message) { return Status(Code::kUnavailable, std::move(message)); }

  bool ok() const { return code_ == Code::kOk; }
  const std::string& message() const { return message_; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }

 private:
  enum class Code { kOk, kInvalidArgument, kInternal, kUnavailable };
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Returns early from the enclosing function when `expr` yields a failed Status.
#define RINGLAB_RETURN_IF_ERROR(expr)      \
  do {                                     \
    ::ringlab::Status status_ = (expr);    \
    if (!status_.ok()) return status_;     \
  } while (0)

}  // namespace ringlab
