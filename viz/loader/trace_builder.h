// Trace building: turns the parsed files (FileEvents) into the indexed TraceModel. Lanes get their rank (a ringlab
// trace's pid, a foreign file's distributedInfo rank, else its position among several files, else its pid) and name,
// and are ordered by (rank, file, pid, tid); events are grouped by lane and sorted by start time, with their nesting
// depth and the running maximum of end times; ringlab traces get the (rank, op) index.
#pragma once

#include <string>
#include <vector>

#include "viz/loader/file_events.h"
#include "viz/model.h"

namespace ringlab::viz::loader {

// `names` are the interned event names the files' events refer to. Consumes the files' events and infos. Fails when
// two files hold one rank (different runs) unless opt.separate_runs; flows are bound to slices, counters sorted.
Status BuildModel(std::vector<FileEvents>& files, std::vector<std::string> names, TraceModel* out,
                  const LoadOptions& opt = {});

// Puts a file's events in the order BuildModel leaves them (lanes renumbered in (pid, tid) order, events grouped by
// lane, each lane by start time, longer first), so that building a one-file model from it moves the events instead
// of sorting them. Used before writing the binary cache: a load from the cache then skips the sort.
void CanonicalOrder(FileEvents* fe);

}  // namespace ringlab::viz::loader
