// Reads one trace file into FileEvents: the JSON Object Format ({"traceEvents": [...], "ringlab": {...},
// "distributedInfo": {...}}) or the JSON Array Format (a bare event array, its closing ']' optional). Complete events
// (ph X) are kept; B/E pairs become complete events; process and thread names are collected from metadata events;
// instants, counters and flows are skipped. A "ringlab" metadata object is validated (format version, schedule
// config, every pid a rank) and marks the file as a ringlab trace.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "viz/loader/file_events.h"

namespace ringlab::viz::loader {

// `name` names the file in messages (with the byte offset, line and field of an error). Names are interned into
// *names, shared by all files of one load.
Status ParseFile(std::string_view data, const std::string& name, FileEvents* fe, Interner* names);

}  // namespace ringlab::viz::loader
