// Shared pieces of the ringlab Python binding (python/src): Status to Python exceptions, numpy columns, and the
// functions each binding file adds to the `ringlab._core` module.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "apps/common_options.h"
#include "core/status.h"

namespace ringlab::python {

namespace nb = nanobind;

// Raises ValueError for bad input (the CLI's exit 2) and RuntimeError for everything else (exit 3); the message is
// the CLI's error line without its "ringlab: error: " prefix.
void ThrowIfError(const Status& st);

// A one-dimensional numpy array that owns `values` (no copy).
template <typename T>
nb::object NumpyColumn(std::vector<T>&& values) {
  auto* owned = new std::vector<T>(std::move(values));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  return nb::ndarray<nb::numpy, T, nb::ndim<1>>(owned->data(), {owned->size()}, owner).cast();
}

// The CLI's common flags (--world 8 --seq 131072 ...) parsed by its own flag table; ValueError with its message.
cli::CommonOptions ParseCommonFlags(const std::vector<std::string>& flags);

void BindConfig(nb::module_& m);
void BindSchedule(nb::module_& m);
void BindSim(nb::module_& m);

}  // namespace ringlab::python
