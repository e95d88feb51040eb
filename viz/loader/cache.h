// The viewer's binary cache of a parsed trace file: TRACE.rlcache beside TRACE, holding what parsing TRACE yields
// (FileEvents: events, lanes, names, flows, counters, metadata) in the viewer's own in-memory layout, so a second
// load of an unchanged trace copies arrays instead of scanning JSON (a 10M-op trace: about 1 s instead of 12 s).
//
// The cache names the trace's size, modification time and inode, and the layout it was written with (a version and
// the sizes of the records); a cache that does not match, or is damaged, is ignored and rewritten. It is written
// through core's OutputBatch (a temporary renamed into place), so a reader never sees half a cache. Failing to write
// one (a read-only folder) is not an error: the cache only saves time.
//
//   if (!ReadCache(path, &fe, &names)) { ParseFile(...); (void)WriteCache(path, fe, names); }
#pragma once

#include <string>

#include "core/status.h"
#include "viz/loader/file_events.h"

namespace ringlab::viz::loader {

std::string CachePath(const std::string& trace);

// True when TRACE.rlcache matches `trace` and was read into *fe (its names interned into *names); else *fe is left
// cleared and false is returned.
bool ReadCache(const std::string& trace, FileEvents* fe, Interner* names);

// Writes TRACE.rlcache for `fe`, parsed from `trace` (names: the interner its events' name ids refer to); writes nothing
// and says so where something other than a regular file (a fifo, a device, a link) stands at that path.
Status WriteCache(const std::string& trace, const FileEvents& fe, const Interner& names);

}  // namespace ringlab::viz::loader
