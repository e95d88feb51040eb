#include "kernels/cuda/npy_io.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/output_file.h"
#include "kernels/cuda/gpu_helpers.h"

namespace ringlab::gpu {
namespace {

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

// Value of 'key': in a Python dict literal (the .npy header), as raw text up to the next top-level comma or brace.
bool HeaderField(const std::string& h, const std::string& key, std::string* value) {
  const size_t k = h.find("'" + key + "'");
  if (k == std::string::npos) return false;
  size_t i = h.find(':', k);
  if (i == std::string::npos) return false;
  ++i;
  while (i < h.size() && h[i] == ' ') ++i;
  size_t j = i;
  if (h[i] == '(') j = h.find(')', i) + 1;
  else if (h[i] == '\'') j = h.find('\'', i + 1) + 1;
  else while (j < h.size() && h[j] != ',' && h[j] != '}') ++j;
  if (j == std::string::npos || j > h.size()) return false;
  *value = h.substr(i, j - i);
  return true;
}

}  // namespace

Status ReadNpy(const std::string& path, const std::vector<int64_t>& shape, std::vector<float>* values) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::InvalidArgument("cannot open '" + path + "'");
  char magic[8];
  f.read(magic, 8);
  if (f.gcount() != 8 || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return Status::InvalidArgument("'" + path + "' is not a .npy file (bad magic)");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    uint8_t b[2];
    f.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else if (magic[6] == 2 || magic[6] == 3) {
    uint8_t b[4];
    f.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  } else {
    return Status::InvalidArgument("'" + path + "': unsupported .npy version " + std::to_string(int(magic[6])));
  }
  if (!f || header_len > (1u << 20)) return Status::InvalidArgument("'" + path + "': truncated .npy header");
  std::string h(header_len, '\0');
  f.read(h.data(), header_len);
  if (f.gcount() != std::streamsize(header_len)) return Status::InvalidArgument("'" + path + "': truncated .npy header");
  std::string descr, order, shape_text;
  if (!HeaderField(h, "descr", &descr) || !HeaderField(h, "fortran_order", &order) || !HeaderField(h, "shape", &shape_text))
    return Status::InvalidArgument("'" + path + "': malformed .npy header");
  if (order != "False") return Status::InvalidArgument("'" + path + "': Fortran-order arrays are not supported");
  std::vector<int64_t> got;
  {
    std::string inner = shape_text.substr(1, shape_text.size() - 2);
    for (char& c : inner) if (c == ',') c = ' ';
    std::istringstream is(inner);
    int64_t v;
    while (is >> v) got.push_back(v);
  }
  if (got != shape)
    return Status::InvalidArgument("'" + path + "' has shape " + ShapeString(got) + " but the flags describe " +
                                   ShapeString(shape) + " ([batch, heads, seq, dim])");
  int width = 0;
  if (descr == "'<f4'") width = 4;
  else if (descr == "'<f8'") width = 8;
  else if (descr == "'<f2'" || descr == "'<u2'") width = 2;
  else
    return Status::InvalidArgument("'" + path + "': dtype " + descr +
                                   " is not supported (use float32 '<f4', float64 '<f8', float16 '<f2' or raw bf16 "
                                   "bits as uint16 '<u2')");
  size_t n = 1;
  for (int64_t d : shape) n *= size_t(d);
  std::vector<char> raw(n * width);
  f.read(raw.data(), std::streamsize(raw.size()));
  if (size_t(f.gcount()) != raw.size())
    return Status::InvalidArgument("'" + path + "': truncated data (" + std::to_string(f.gcount()) + " of " +
                                   std::to_string(raw.size()) + " bytes)");
  values->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const char* p = raw.data() + i * width;
    float v;
    if (descr == "'<f4'") {
      std::memcpy(&v, p, 4);
    } else if (descr == "'<f8'") {
      double d;
      std::memcpy(&d, p, 8);
      v = float(d);
    } else {
      uint16_t b;
      std::memcpy(&b, p, 2);
      v = descr == "'<u2'" ? Bf16BitsToFloat(b) : HalfBitsToFloat(b);
    }
    (*values)[i] = v;
  }
  return Status::Ok();
}

Status WriteNpy(std::ostream& out, const std::vector<int64_t>& shape, const std::vector<float>& values) {
  size_t n = 1;
  for (int64_t d : shape) n *= size_t(d);
  if (n != values.size())
    return Status::Internal(".npy of shape " + ShapeString(shape) + " given " + std::to_string(values.size()) +
                            " values");
  // Header: a Python dict literal padded with spaces so that the data starts at a multiple of 64 bytes (format 1.0).
  std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': " + ShapeString(shape) + ", }";
  const size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = uint16_t(h.size());
  const char lb[2] = {char(len & 0xff), char(len >> 8)};
  out.write(lb, 2);
  out.write(h.data(), std::streamsize(h.size()));
  out.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * 4));
  return Status::Ok();
}

Status WriteNpy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& values) {
  OutputBatch batch;
  std::ostream* out = nullptr;
  RINGLAB_RETURN_IF_ERROR(batch.Open(path, &out));
  RINGLAB_RETURN_IF_ERROR(WriteNpy(*out, shape, values));
  return batch.Commit();
}

}  // namespace ringlab::gpu
