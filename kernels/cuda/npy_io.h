// .npy files for `ringlab run --q/--k/--v/--do FILE.npy` and `--out DIR`.
//
// bf16 storage: NumPy has no bfloat16, so
//   * reading accepts '<f4' (float32), '<f8' (float64), '<f2' (float16), rounded to the run's element type, and
//     '<u2' (uint16) read as raw bf16 bit patterns (e.g. `t.view(torch.int16).numpy().astype('<u2')`);
//   * writing always stores float32 ('<f4'): every bf16 value is exactly a float32, and out, lse and the gradients are
//     float32 accumulators anyway. In PyTorch: torch.from_numpy(np.load("q.npy")).bfloat16() is exact.
// C order only; shapes are checked against what the flags describe, the message names the file and both shapes.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"

namespace ringlab::gpu {

// Reads `path` into float32 values; fails unless the array's shape equals `shape`.
Status ReadNpy(const std::string& path, const std::vector<int64_t>& shape, std::vector<float>* values);
// Writes the .npy bytes of `values` (header, then float32 data) to `out`, e.g. a stream of an OutputBatch
// (core/output_file.h) so that the file is whole or absent with the rest of the run's outputs. Fails when `shape`
// does not describe values.size() elements; write errors surface when the batch commits.
Status WriteNpy(std::ostream& out, const std::vector<int64_t>& shape, const std::vector<float>& values);
// One .npy file on its own, written to a temporary and renamed into place (core/output_file.h).
Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& values);

}  // namespace ringlab::gpu
