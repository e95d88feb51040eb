// The `ringlab._core` extension module: the C++ libraries (core, sim, kernels/cpu) behind the `ringlab` package.
// The package's Python side (python/ringlab) turns what these functions return into pandas frames and objects.
#include <stdexcept>
#include <string>

#include "python/src/binding.h"

namespace ringlab::python {

namespace {

// The message as valid UTF-8: Python decodes an exception's text as UTF-8, so a message quoting raw bytes (a trace
// file's invalid field, a path) raised UnicodeDecodeError instead of itself. Bytes outside valid sequences become \xNN.
std::string ValidUtf8(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
    }
  }
  return out;
}

}  // namespace

void ThrowIfError(const Status& st) {
  if (st.ok()) return;
  const std::string message = ValidUtf8(st.message());
  if (st.IsInvalidArgument()) throw nb::value_error(message.c_str());
  throw std::runtime_error(message);
}

}  // namespace ringlab::python

NB_MODULE(_core, m) {
  m.doc() = "ringlab's C++ libraries (schedules, simulator, traces); use the `ringlab` package, not this module.";
  ringlab::python::BindConfig(m);
  ringlab::python::BindSchedule(m);
  ringlab::python::BindSim(m);
}
