// The viewer's outputs (the screenshot PNG, the layout JSON) written whole or not at all: each goes to a temporary
// file in its target's folder, is flushed to disk, and all are renamed into place only when every one was written.
// A failure removes the temporaries and names the file; nothing half-written is left behind. "-" is standard output;
// an existing device or pipe (/dev/null, /dev/full) is written in place, since renaming over it would replace it.
//
//   RINGLAB_RETURN_IF_ERROR(WriteOutputFiles({{"shot.png", png_bytes}, {"layout.json", json}}));
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ringlab::viz {

// (path, contents) pairs. At most one may be "-".
Status WriteOutputFiles(const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace ringlab::viz
