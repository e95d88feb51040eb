// Every file ringlab writes goes through here, so that an output is whole or absent:
//
//   OutputBatch batch;                               // the outputs of one run, committed together
//   std::ostream* f = nullptr;
//   RINGLAB_RETURN_IF_ERROR(batch.Open(path, &f));  // a temporary beside `path` ("-": stdout)
//   *f << text;
//   RINGLAB_RETURN_IF_ERROR(batch.Commit());         // flush + fsync every temporary, then rename each into place
//
// A regular file is written to a temporary in the target's folder and renamed over the target only when every output
// of the batch was written and synced (rename is atomic: two runs writing one path each leave a whole file, the last
// one's). "-" is stdout; special files (/dev/null, /dev/stdout, fifos, sockets) are written directly, without a
// rename, and their errors are still caught. Any failure removes every temporary of the batch and returns
// InvalidArgument("cannot write PATH: reason") — the path is the user's, so the CLI exits 2.
//
// Naming rule for a flag that writes several files (several methods or passes): OutputPathWithSuffix inserts the
// suffix before the file name's extension (appends it when there is none); "-" and special files cannot take one
// (CheckSuffixable says so).
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ringlab {

class OutputBatch {
 public:
  OutputBatch();
  ~OutputBatch();  // removes the temporaries of a batch that was not committed
  OutputBatch(const OutputBatch&) = delete;
  OutputBatch& operator=(const OutputBatch&) = delete;

  // Starts the output `path`; *stream stays valid until Commit or destruction. Fails at once for a path that cannot
  // be created (missing or unwritable folder, a directory).
  Status Open(const std::string& path, std::ostream** stream);
  // Adds a whole text as one output.
  Status Add(const std::string& path, std::string_view text);
  // Creates the folder `path` and any missing folder above it, for outputs that go into it. A batch that is not
  // committed removes the folders it created (those left empty): a failed run leaves no empty folder behind.
  Status CreateFolder(const std::string& path);
  // Flushes and syncs every output, then renames the temporaries into place: all of them, or none on any failure.
  Status Commit();

 private:
  struct Entry;
  void RemoveTemporaries();
  void RemoveCreatedFolders();
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::string> created_folders_;  // outermost first
};

// A batch of one output.
Status WriteOutputFile(const std::string& path, std::string_view text);

// Fails now (as Commit would later) when `path` cannot be written: for checking outputs before long work.
Status CheckOutputPath(const std::string& path);

// Fails now when files cannot be written into the folder `dir`: a missing folder is created as the run would create
// it, and removed again with the probe file, so that nothing is left behind.
Status CheckOutputFolder(const std::string& dir);

// Fails when two of `outputs` ({flag, path}) name one file ('-' included; special files such as /dev/null may
// repeat): the batch would keep only the last, so each output needs its own file. The message names both flags.
Status CheckDistinctOutputs(const std::vector<std::pair<std::string, std::string>>& outputs);

// Fails when an output of `outputs` ({flag, path}) is a file one of `inputs` ({flag, path}) names, by device and
// inode (another spelling, a link): the run reads its inputs whole and then renames the output over the input, which
// is lost (`fit-profile --samples s.json --out s.json` replaced the samples by the profile). Outputs that do not
// exist yet, '-' and special files pass. The message names both flags.
Status CheckOutputsAreNotInputs(const std::vector<std::pair<std::string, std::string>>& outputs,
                                const std::vector<std::pair<std::string, std::string>>& inputs);

// "-", or a file that is not a regular file or a path to one (a device, fifo or socket): written in place.
bool IsSpecialOutput(const std::string& path);

// "out/trace.json" + ".alltoall.forward" -> "out/trace.alltoall.forward.json"; "out/trace" -> "out/trace.alltoall".
std::string OutputPathWithSuffix(const std::string& path, const std::string& suffix);

// The traces `ringlab check` and `run` write for --trace PATH: PATH, or with both methods a ".allgather" and an
// ".alltoall" name; each with its ".backward" twin when the backward pass runs. For checking them before the run.
std::vector<std::string> MethodTracePaths(const std::string& path, bool both_methods, bool backward);

// A flag whose output becomes several files (`why` says why, e.g. "one per method and pass") needs a path that can
// take a suffix: "-" and special files are refused with a line naming the flag.
Status CheckSuffixable(const std::string& flag, const std::string& path, const std::string& why);

}  // namespace ringlab
