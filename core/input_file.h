// Reading a whole input file (a mask term's histogram or cu_seqlens, a profile, calibration samples) into memory with
// a bound, so that a wrong path cannot be read until memory runs out: only a regular file or a fifo (a pipe, a shell's
// <(...), read until its writer closes it) is read, and at most `max_bytes` of it. A directory used to read as an
// empty file and a device such as /dev/zero was read without end.
//
//   std::string text;
//   if (Status st = ReadInputFile(path, kMaxInputFileBytes, &text); !st.ok())
//     return Status::InvalidArgument("profile " + path + ": " + st.message());  // "... is a directory (allowed: ...)"
#pragma once

#include <cstdint>
#include <istream>
#include <memory>
#include <string>

#include "core/status.h"

namespace ringlab {

// How long ReadInputFile waits for a fifo's writer to open it (a writer started beside the reader, as a shell's
// `cat x > f &` is, opens it within milliseconds); after that the fifo is refused rather than waited on for ever.
inline constexpr int kFifoWriterWaitMs = 2000;

// 256 MiB: every one of core/mask_documents.h's kMaxDocuments cu_seqlens offsets up to 7 digits, 24 million of 10;
// profiles and calibration samples are kilobytes to megabytes.
inline constexpr int64_t kMaxInputFileBytes = int64_t(256) << 20;

// The whole text of `path`, at most `max_bytes`. Errors (InvalidArgument, without the path: callers name it) say
// what the file is and what is allowed: "is a directory (allowed: a regular file or a fifo of at most 256 MiB)". A
// fifo that no writer opens within `fifo_writer_wait_ms` is refused ("is a fifo with no writer ...").
Status ReadInputFile(const std::string& path, int64_t max_bytes, std::string* text,
                     int fifo_writer_wait_ms = kFifoWriterWaitMs);

// An input file read as a stream, for inputs parsed as they are read rather than held whole (a trace of gigabytes):
// ReadInputFile's checks are made when it is opened (a regular file or a fifo; a fifo without a writer is refused
// after the wait), with no bound on its size, since a stream holds none of it. It is an std::istream for the parsers
// that take one (nlohmann::json::parse, protobuf's IstreamInputStream); a failed read ends the stream as its end
// would, so a parser's "unexpected end" must be checked against status().
//
//   InputStream in;
//   if (Status st = in.Open(path); !st.ok()) return ...;   // "is a directory (allowed: a regular file or a fifo)"
//   json j = json::parse(in);
//   if (!in.status().ok()) return ...;                       // "cannot read: Input/output error"
class InputStream : public std::istream {
 public:
  InputStream();
  ~InputStream() override;
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Errors as ReadInputFile's (InvalidArgument, without the path).
  Status Open(const std::string& path, int fifo_writer_wait_ms = kFifoWriterWaitMs);
  // Ok unless a read after Open failed.
  Status status() const;

 private:
  class Buffer;
  std::unique_ptr<Buffer> buffer_;
};

}  // namespace ringlab
