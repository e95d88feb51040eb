// Parallel parse of a large traceEvents array. The array is cut at guessed element boundaries (a line that starts
// with '{' after a line ending in ','); each piece after the first is parsed speculatively on its own thread into its
// own lanes and names. A piece counts only when the parser before it arrives exactly at its start between two
// elements (so the guess was a real boundary) and it ended exactly at the next piece's start (or at the array's
// ']'). Anything unusual in a piece (metadata, B/E pairs, string ids, a parse error) discards it and the sequential
// parser goes on from there, so results and error messages are those of a plain sequential parse.
//
//   ParallelPieces pieces;                       // its destructor cancels and joins the threads
//   pieces.Start(data, name, sc.pos(), allow_eof);
//   for (;;) {
//     switch (pieces.TakeOver(sc, sink, &index)) { ... }   // merged a piece, ended the array, or parse one element
//   }
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "viz/loader/file_events.h"
#include "viz/loader/json_scanner.h"

namespace ringlab::viz::loader {

struct Chunk;

class ParallelPieces {
 public:
  ParallelPieces();
  ~ParallelPieces();  // cancels and joins the threads still running
  ParallelPieces(const ParallelPieces&) = delete;
  ParallelPieces& operator=(const ParallelPieces&) = delete;

  // Plans the pieces of the array from `from` (just after its '[') to the end of `data` and starts a thread for each;
  // none when less than 2 * kParallelMinBytes remain. `data` and `name` must outlive this object. With `allow_eof` the
  // array may end at the end of the data without its ']' (the JSON Array Format).
  void Start(std::string_view data, const std::string& name, const char* from, bool allow_eof);

  enum class Step {
    kParseOne,   // parse the next element sequentially
    kMerged,     // a piece was appended: the scanner stands after it
    kArrayDone,  // the last piece was appended and it ended the array
  };
  // Called by the sequential parser before each element. When the scanner stands at the next piece's start and that
  // piece parsed cleanly, appends its events to `sink`, moves the scanner past it and adds its element count to
  // *index. When the piece failed, or the scanner is already past its start, gives up all remaining pieces.
  Step TakeOver(JsonScanner& sc, EventSink& sink, size_t* index);

  static constexpr size_t kParallelMinBytes = size_t(4) << 20;

 private:
  void GiveUp();

  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::atomic<bool> cancel_{false};
  std::vector<std::thread> threads_;
  size_t next_ = 0;  // next piece to take over
};

}  // namespace ringlab::viz::loader
