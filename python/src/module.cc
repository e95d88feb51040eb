// The `ringlab._core` extension module: the C++ libraries (core, sim, kernels/cpu) behind the `ringlab` package.
// The package's Python side (python/ringlab) turns what these functions return into pandas frames and objects.
#include <stdexcept>

#include "python/src/binding.h"

namespace ringlab::python {

void ThrowIfError(const Status& st) {
  if (st.ok()) return;
  if (st.IsInvalidArgument()) throw nb::value_error(st.message().c_str());
  throw std::runtime_error(st.message());
}

}  // namespace ringlab::python

NB_MODULE(_core, m) {
  m.doc() = "ringlab's C++ libraries (schedules, simulator, traces); use the `ringlab` package, not this module.";
  ringlab::python::BindConfig(m);
  ringlab::python::BindSchedule(m);
  ringlab::python::BindSim(m);
}
