// Moves the 128-byte NCCL unique id from rank 0 to every other process: through a shared file (written to a temporary
// name, then renamed, so readers never see half a file) or a tiny TCP exchange (rank 0 listens, the others connect
// and read 128 bytes). Both wait at most `timeout_s` and then fail with a message naming the file or address.
#pragma once

#include <string>

#include "core/status.h"

namespace ringlab::gpu {

inline constexpr int kNcclIdBytes = 128;

// Rank 0: removes any stale `path` and `path`.abort, then writes `id`. Others: wait for the file and read it.
Status ExchangeIdFile(bool root, const std::string& path, char* id, double timeout_s);
// Rank 0: listens on `port` and sends `id` to world − 1 connections. Others: connect to addr:port (retrying) and read.
Status ExchangeIdTcp(bool root, const std::string& addr, int port, int world, char* id, double timeout_s);

}  // namespace ringlab::gpu
